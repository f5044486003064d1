"Packaging: metadata from settings.ini, version from poselift/__init__.py (where nbdev writes it)."
import re
from configparser import ConfigParser
from pathlib import Path
from setuptools import find_packages, setup

here = Path(__file__).parent
cfg = ConfigParser(delimiters=['='])
cfg.read(here / 'settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']
version = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', (here / 'poselift' / '__init__.py').read_text(), re.M).group(1)
licenses = {'apache2': 'Apache Software License 2.0'}

setup(
    name=cfg['lib_name'], version=version, description=cfg['description'], keywords=cfg['keywords'].split(),
    author=cfg['author'], author_email=cfg['author_email'], license=licenses[cfg['license']],
    long_description=(here / 'README.md').read_text(encoding='utf-8'), long_description_content_type='text/markdown',
    packages=find_packages(include=['poselift', 'poselift.*']), include_package_data=True,
    package_data={'poselift': ['csrc/*.c', 'csrc/*.h', 'weights/*.pt', 'weights/*.md']},   # the C kernels (compiled on first use), the shipped weights
    python_requires=f">={cfg['min_python']}",
    install_requires=cfg['requirements'].split(),
    extras_require={'dev': cfg['dev_requirements'].split()},
    entry_points={'nbdev': [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"],
                  'console_scripts': ['poselift=poselift.cli:main']},
    classifiers=['Programming Language :: Python :: 3', 'License :: OSI Approved :: Apache Software License',
                 'Intended Audience :: Science/Research', 'Topic :: Scientific/Engineering :: Artificial Intelligence'],
    zip_safe=False,
)
