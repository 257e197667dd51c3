/* C helpers for pkg/libostree's signature calls; see sign_shim.h. */
#include "sign_shim.h"
#include <string.h>

static char *
dup_child_string (GVariant *tuple, OstreeGpgSignatureAttr attr)
{
  const char *s = NULL;
  g_variant_get_child (tuple, attr, "&s", &s);
  return g_strdup (s != NULL ? s : "");
}

static gboolean
child_bool (GVariant *tuple, OstreeGpgSignatureAttr attr)
{
  gboolean b = FALSE;
  g_variant_get_child (tuple, attr, "b", &b);
  return b;
}

static gint64
child_int64 (GVariant *tuple, OstreeGpgSignatureAttr attr)
{
  gint64 i = 0;
  g_variant_get_child (tuple, attr, "x", &i);
  return i;
}

gboolean
opush_verify_commit_gpg (OstreeRepo *repo, const char *csum,
                         const char *keyringdir, const char *keyring,
                         guint *out_valid, opush_gpg_sig **out_sigs,
                         guint *out_n, GError **error)
{
  g_autoptr(GFile) dir = keyringdir != NULL ? g_file_new_for_path (keyringdir) : NULL;
  g_autoptr(GFile) file = keyring != NULL ? g_file_new_for_path (keyring) : NULL;
  *out_valid = 0;
  *out_sigs = NULL;
  *out_n = 0;

  g_autoptr(OstreeGpgVerifyResult) result =
    ostree_repo_verify_commit_ext (repo, csum, dir, file, NULL, error);
  if (result == NULL)
    return FALSE;

  guint n = ostree_gpg_verify_result_count_all (result);
  opush_gpg_sig *sigs = g_new0 (opush_gpg_sig, n > 0 ? n : 1);
  for (guint i = 0; i < n; i++)
    {
      /* get_all returns a floating tuple ordered as OstreeGpgSignatureAttr. */
      g_autoptr(GVariant) all =
        g_variant_ref_sink (ostree_gpg_verify_result_get_all (result, i));
      opush_gpg_sig *s = &sigs[i];
      s->valid = child_bool (all, OSTREE_GPG_SIGNATURE_ATTR_VALID);
      s->sig_expired = child_bool (all, OSTREE_GPG_SIGNATURE_ATTR_SIG_EXPIRED);
      s->key_expired = child_bool (all, OSTREE_GPG_SIGNATURE_ATTR_KEY_EXPIRED);
      s->key_revoked = child_bool (all, OSTREE_GPG_SIGNATURE_ATTR_KEY_REVOKED);
      s->key_missing = child_bool (all, OSTREE_GPG_SIGNATURE_ATTR_KEY_MISSING);
      s->timestamp = child_int64 (all, OSTREE_GPG_SIGNATURE_ATTR_TIMESTAMP);
      s->exp_timestamp = child_int64 (all, OSTREE_GPG_SIGNATURE_ATTR_EXP_TIMESTAMP);
      s->fingerprint = dup_child_string (all, OSTREE_GPG_SIGNATURE_ATTR_FINGERPRINT);
      s->fingerprint_primary = dup_child_string (all, OSTREE_GPG_SIGNATURE_ATTR_FINGERPRINT_PRIMARY);
      s->pubkey_algo = dup_child_string (all, OSTREE_GPG_SIGNATURE_ATTR_PUBKEY_ALGO_NAME);
      s->hash_algo = dup_child_string (all, OSTREE_GPG_SIGNATURE_ATTR_HASH_ALGO_NAME);
      s->user_name = dup_child_string (all, OSTREE_GPG_SIGNATURE_ATTR_USER_NAME);
      s->user_email = dup_child_string (all, OSTREE_GPG_SIGNATURE_ATTR_USER_EMAIL);
      g_autoptr(GString) desc = g_string_new (NULL);
      ostree_gpg_verify_result_describe (result, i, desc, NULL,
                                         OSTREE_GPG_SIGNATURE_FORMAT_DEFAULT);
      s->description = g_string_free (g_steal_pointer (&desc), FALSE);
    }
  *out_valid = ostree_gpg_verify_result_count_valid (result);
  *out_sigs = sigs;
  *out_n = n;
  return TRUE;
}

void
opush_gpg_sigs_free (opush_gpg_sig *sigs, guint n)
{
  if (sigs == NULL)
    return;
  for (guint i = 0; i < n; i++)
    {
      g_free (sigs[i].fingerprint);
      g_free (sigs[i].fingerprint_primary);
      g_free (sigs[i].pubkey_algo);
      g_free (sigs[i].hash_algo);
      g_free (sigs[i].user_name);
      g_free (sigs[i].user_email);
      g_free (sigs[i].description);
    }
  g_free (sigs);
}

gboolean
opush_gpg_sign_data (OstreeRepo *repo, const guint8 *data, gsize len,
                     const char **key_ids, const char *homedir,
                     guint8 **out, gsize *out_len, GError **error)
{
  g_autoptr(GBytes) in = g_bytes_new (data, len);
  g_autoptr(GBytes) sigs = NULL;
  if (!ostree_repo_gpg_sign_data (repo, in, NULL, key_ids, homedir, &sigs, NULL, error))
    return FALSE;
  gsize n = 0;
  const guint8 *p = g_bytes_get_data (sigs, &n);
  *out = g_memdup2 (p, n);
  *out_len = n;
  return TRUE;
}
