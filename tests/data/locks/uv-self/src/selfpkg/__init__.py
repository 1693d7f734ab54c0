"""A project the lock installs itself."""


def main() -> None:
    print("hi")
