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

/* The bytes are untrusted: g_bytes_new copies them into suitably aligned
 * memory, and only the normal form is accepted, so that what is read here is
 * exactly what any other reader (libostree, which loads stored detached
 * metadata as trusted) sees. */
static GVariant *
vardict_from_bytes (const guint8 *meta, gsize meta_len, GError **error)
{
  g_autoptr(GBytes) bytes = g_bytes_new (meta_len > 0 ? meta : NULL, meta_len);
  g_autoptr(GVariant) v =
    g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_VARDICT, bytes, FALSE));
  if (!g_variant_is_normal_form (v))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "Metadata is not an a{sv} in normal form");
      return NULL;
    }
  return g_steal_pointer (&v);
}

/* The first entry of dict whose key is key, or -1. */
static gssize
vardict_find (GVariant *dict, const char *key)
{
  gsize n = g_variant_n_children (dict);
  for (gsize i = 0; i < n; i++)
    {
      const char *k = NULL;
      g_autoptr(GVariant) entry = g_variant_get_child_value (dict, i);
      g_variant_get_child (entry, 0, "&s", &k);
      if (g_strcmp0 (k, key) == 0)
        return (gssize) i;
    }
  return -1;
}

static GVariant *
vardict_value_at (GVariant *dict, gsize i)
{
  g_autoptr(GVariant) entry = g_variant_get_child_value (dict, i);
  g_autoptr(GVariant) boxed = g_variant_get_child_value (entry, 1);
  return g_variant_get_variant (boxed);
}

gboolean
opush_vardict_get_aay (const guint8 *meta, gsize meta_len, const char *key,
                       gboolean *out_found, guint8 **out_data,
                       gsize **out_lens, gsize *out_n, GError **error)
{
  *out_found = FALSE;
  *out_data = NULL;
  *out_lens = NULL;
  *out_n = 0;
  g_autoptr(GVariant) dict = vardict_from_bytes (meta, meta_len, error);
  if (dict == NULL)
    return FALSE;
  gssize at = vardict_find (dict, key);
  if (at < 0)
    return TRUE;
  g_autoptr(GVariant) value = vardict_value_at (dict, at);
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("aay")))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Metadata key %s has type %s, not aay", key,
                   g_variant_get_type_string (value));
      return FALSE;
    }
  gsize n = g_variant_n_children (value);
  gsize total = 0;
  gsize *lens = g_new0 (gsize, n > 0 ? n : 1);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (value, i);
      lens[i] = g_variant_get_size (child);
      total += lens[i];
    }
  guint8 *data = g_malloc (total > 0 ? total : 1);
  gsize off = 0;
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (value, i);
      gsize len = 0;
      const guint8 *p = g_variant_get_fixed_array (child, &len, 1);
      if (len > 0)
        memcpy (data + off, p, len);
      off += len;
    }
  *out_found = TRUE;
  *out_data = data;
  *out_lens = lens;
  *out_n = n;
  return TRUE;
}

gboolean
opush_vardict_put_aay (const guint8 *meta, gsize meta_len, const char *key,
                       gboolean append, const guint8 *data, const gsize *lens,
                       gsize n, guint8 **out_data, gsize *out_len,
                       GError **error)
{
  *out_data = NULL;
  *out_len = 0;
  g_autoptr(GVariant) dict = vardict_from_bytes (meta, meta_len, error);
  if (dict == NULL)
    return FALSE;
  gssize at = vardict_find (dict, key);

  g_auto(GVariantBuilder) sigs;
  g_variant_builder_init (&sigs, G_VARIANT_TYPE ("aay"));
  if (at >= 0 && append)
    {
      g_autoptr(GVariant) old = vardict_value_at (dict, at);
      if (!g_variant_is_of_type (old, G_VARIANT_TYPE ("aay")))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "Metadata key %s has type %s, not aay", key,
                       g_variant_get_type_string (old));
          return FALSE;
        }
      gsize m = g_variant_n_children (old);
      for (gsize i = 0; i < m; i++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (old, i);
          g_variant_builder_add_value (&sigs, child);
        }
    }
  gsize off = 0;
  for (gsize i = 0; i < n; i++)
    {
      const guint8 *p = lens[i] > 0 ? data + off : (const guint8 *) "";
      g_variant_builder_add_value (&sigs,
        g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, p, lens[i], 1));
      off += lens[i];
    }
  GVariant *sigs_v = g_variant_builder_end (&sigs); /* floating */

  g_auto(GVariantBuilder) out;
  g_variant_builder_init (&out, G_VARIANT_TYPE_VARDICT);
  gsize count = g_variant_n_children (dict);
  for (gsize i = 0; i < count; i++)
    {
      if ((gssize) i == at)
        g_variant_builder_add (&out, "{sv}", key, sigs_v);
      else
        {
          g_autoptr(GVariant) entry = g_variant_get_child_value (dict, i);
          g_variant_builder_add_value (&out, entry);
        }
    }
  if (at < 0)
    g_variant_builder_add (&out, "{sv}", key, sigs_v);

  g_autoptr(GVariant) result = g_variant_ref_sink (g_variant_builder_end (&out));
  g_autoptr(GVariant) normal = g_variant_get_normal_form (result);
  *out_len = g_variant_get_size (normal);
  *out_data = g_memdup2 (g_variant_get_data (normal), *out_len);
  return TRUE;
}

gboolean
opush_vardict_remove (const guint8 *meta, gsize meta_len, const char *key,
                      guint8 **out_data, gsize *out_len, GError **error)
{
  *out_data = NULL;
  *out_len = 0;
  g_autoptr(GVariant) dict = vardict_from_bytes (meta, meta_len, error);
  if (dict == NULL)
    return FALSE;
  g_auto(GVariantBuilder) out;
  g_variant_builder_init (&out, G_VARIANT_TYPE_VARDICT);
  gsize count = g_variant_n_children (dict);
  for (gsize i = 0; i < count; i++)
    {
      const char *k = NULL;
      g_autoptr(GVariant) entry = g_variant_get_child_value (dict, i);
      g_variant_get_child (entry, 0, "&s", &k);
      if (g_strcmp0 (k, key) != 0)
        g_variant_builder_add_value (&out, entry);
    }
  g_autoptr(GVariant) result = g_variant_ref_sink (g_variant_builder_end (&out));
  g_autoptr(GVariant) normal = g_variant_get_normal_form (result);
  *out_len = g_variant_get_size (normal);
  *out_data = g_memdup2 (g_variant_get_data (normal), *out_len);
  return TRUE;
}

gboolean
opush_commit_bindings (const guint8 *commit, gsize len, gboolean *out_has_refs,
                       char ***out_refs, char **out_collection, GError **error)
{
  *out_has_refs = FALSE;
  *out_refs = NULL;
  *out_collection = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new (len > 0 ? commit : NULL, len);
  g_autoptr(GVariant) v =
    g_variant_ref_sink (g_variant_new_from_bytes (OSTREE_COMMIT_GVARIANT_FORMAT, bytes, FALSE));
  if (!g_variant_is_normal_form (v))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "Commit is not in normal form");
      return FALSE;
    }
  g_autoptr(GVariant) metadata = g_variant_get_child_value (v, 0);
  *out_has_refs = g_variant_lookup (metadata, OSTREE_COMMIT_META_KEY_REF_BINDING, "^as", out_refs);
  const char *coll = NULL;
  if (g_variant_lookup (metadata, OSTREE_COMMIT_META_KEY_COLLECTION_BINDING, "&s", &coll))
    *out_collection = g_strdup (coll);
  return TRUE;
}
