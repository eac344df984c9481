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
"""Sphinx configuration of the trove-backup-ext documentation."""

extensions = [
    'openstackdocstheme',
    # The configuration and policy references are rendered from the
    # installed package's entry points, so they cannot drift from the code.
    'oslo_config.sphinxext',
    'oslo_config.sphinxconfiggen',
    'oslo_policy.sphinxext',
    'oslo_policy.sphinxpolicygen',
]

# Sample files written into _static/ at build time (not committed).
config_generator_config_file = [
    ('../../etc/trove-backup-ext/trove-backup-ext-config-generator.conf',
     '_static/trove-backup-ext'),
]
policy_generator_config_file = [
    ('../../etc/trove-backup-ext/trove-backup-ext-policy-generator.conf',
     '_static/trove-backup-ext'),
]

openstackdocs_repo_name = 'openstack/trove-backup-ext'
openstackdocs_bug_project = 'trove-backup-ext'
openstackdocs_bug_tag = 'doc'
openstackdocs_auto_name = False

project = 'trove-backup-ext'
copyright = '2026, trove-backup-ext developers'

master_doc = 'index'
source_suffix = {'.rst': 'restructuredtext'}
pygments_style = 'native'
add_module_names = False

html_theme = 'openstackdocs'
html_static_path = ['_static']
