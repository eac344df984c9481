# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""Sphinx configuration of the trove-backup-ext release notes."""

extensions = [
    'openstackdocstheme',
    'reno.sphinxext',
]

openstackdocs_repo_name = 'openstack/trove-backup-ext'
openstackdocs_bug_project = 'trove-backup-ext'
openstackdocs_bug_tag = 'releasenotes'
openstackdocs_auto_name = False

project = 'trove-backup-ext Release Notes'
copyright = '2026, trove-backup-ext developers'

master_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
pygments_style = 'native'

# Release notes are versionless: reno reads the versions from git tags.
version = ''
release = ''

html_theme = 'openstackdocs'
