from setuptools import setup

setup(
    name="Egg-App",
    version=__import__("eggapp").__version__,
    packages=["eggapp"],
    install_requires=["pastedeploy"],
    entry_points={"paste.app_factory": ["main = eggapp:main"]},
)
