"""[swift] credential_secret_key rotation: a credential keeps the secret
derived from the key it was made with while that key is kept in
previous_credential_secret_keys; a key that is gone is named by its id,
never shown."""

import types

from trove_backup_ext import app_credentials
from trove_backup_ext import exception
from trove_backup_ext.tests import base

OLD = '11' * 32
NEW = '22' * 32
ROW = '0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a'


def options(current, previous=()):
    return types.SimpleNamespace(credential_secret_key=current,
                                 previous_credential_secret_keys=previous)


class CredentialKeyRotationTest(base.TestCase):

    def test_made_under_the_old_key_still_opens_after_rotation(self):
        old_id = app_credentials.key_id(OLD)
        made = app_credentials.secret(options(OLD), ROW, old_id)
        rotated = options(NEW, [OLD])
        self.assertEqual(made, app_credentials.secret(rotated, ROW, old_id))
        # New credentials are made under the new key, with other secrets.
        new_id = app_credentials.key_id(NEW)
        self.assertNotEqual(old_id, new_id)
        self.assertNotEqual(made,
                            app_credentials.secret(rotated, ROW, new_id))

    def test_a_key_no_longer_kept_is_named_by_its_id_only(self):
        old_id = app_credentials.key_id(OLD)
        error = self.assertRaises(exception.ConfigurationError,
                                  app_credentials.secret, options(NEW), ROW,
                                  old_id)
        self.assertIn(old_id, str(error))
        self.assertIn('previous_credential_secret_keys', str(error))
        for key in (OLD, NEW):
            self.assertNotIn(key, str(error))

    def test_the_id_is_a_fingerprint_not_the_key(self):
        self.assertEqual(16, len(app_credentials.key_id(OLD)))
        self.assertNotIn(app_credentials.key_id(OLD), OLD)
