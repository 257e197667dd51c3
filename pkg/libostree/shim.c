/* C helpers for pkg/libostree; see shim.h for ownership rules. */
#include "shim.h"
#include <string.h>

static gboolean
strv_pair_from_table (GHashTable *table, char ***out_keys, char ***out_values)
{
  guint n = g_hash_table_size (table);
  char **keys = g_new0 (char *, n + 1);
  char **values = g_new0 (char *, n + 1);
  GHashTableIter it;
  gpointer k, v;
  guint i = 0;
  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      keys[i] = g_strdup (k);
      values[i] = g_strdup (v);
      i++;
    }
  *out_keys = keys;
  *out_values = values;
  return TRUE;
}

gboolean
opush_list_refs (OstreeRepo *repo, const char *prefix, int flags,
                 char ***out_names, char ***out_csums, GError **error)
{
  g_autoptr(GHashTable) refs = NULL;
  if (!ostree_repo_list_refs_ext (repo, prefix, &refs, flags, NULL, error))
    return FALSE;
  return strv_pair_from_table (refs, out_names, out_csums);
}

gboolean
opush_list_collection_refs (OstreeRepo *repo, int flags, char ***out_cids,
                            char ***out_names, char ***out_csums, GError **error)
{
  g_autoptr(GHashTable) refs = NULL;
  if (!ostree_repo_list_collection_refs (repo, NULL, &refs, flags, NULL, error))
    return FALSE;
  guint n = g_hash_table_size (refs);
  char **cids = g_new0 (char *, n + 1);
  char **names = g_new0 (char *, n + 1);
  char **csums = g_new0 (char *, n + 1);
  GHashTableIter it;
  gpointer k, v;
  guint i = 0;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      const OstreeCollectionRef *ref = k;
      cids[i] = g_strdup (ref->collection_id);
      names[i] = g_strdup (ref->ref_name);
      csums[i] = g_strdup (v);
      i++;
    }
  *out_cids = cids;
  *out_names = names;
  *out_csums = csums;
  return TRUE;
}

static void
copy_csum_child (GVariant *commit, int index, guint8 *out)
{
  g_autoptr(GVariant) v = g_variant_get_child_value (commit, index);
  gsize n = 0;
  const guint8 *p = g_variant_get_fixed_array (v, &n, 1);
  memset (out, 0, 32);
  if (n == 32)
    memcpy (out, p, 32);
}

gboolean
opush_load_commit (OstreeRepo *repo, const char *csum, guint8 *out_parent,
                   gboolean *out_has_parent, guint8 *out_root_tree,
                   guint8 *out_root_meta, guint64 *out_timestamp,
                   char **out_subject, char **out_body, gboolean *out_partial,
                   GError **error)
{
  g_autoptr(GVariant) commit = NULL;
  OstreeRepoCommitState state = 0;
  if (!ostree_repo_load_commit (repo, csum, &commit, &state, error))
    return FALSE;
  g_autofree char *parent = ostree_commit_get_parent (commit);
  *out_has_parent = parent != NULL;
  if (parent != NULL)
    ostree_checksum_inplace_to_bytes (parent, out_parent);
  /* (a{sv} metadata, ay parent, a(say) related, s subject, s body,
   *  t timestamp, ay root dirtree, ay root dirmeta) */
  copy_csum_child (commit, 6, out_root_tree);
  copy_csum_child (commit, 7, out_root_meta);
  *out_timestamp = ostree_commit_get_timestamp (commit);
  const char *subject = NULL, *body = NULL;
  g_variant_get_child (commit, 3, "&s", &subject);
  g_variant_get_child (commit, 4, "&s", &body);
  *out_subject = g_strdup (subject);
  *out_body = g_strdup (body);
  *out_partial = (state & OSTREE_REPO_COMMIT_STATE_PARTIAL) != 0;
  return TRUE;
}

gboolean
opush_has_objects (OstreeRepo *repo, const opush_name *names, gsize n,
                   guint8 *out_have, GError **error)
{
  for (gsize i = 0; i < n; i++)
    {
      char csum[OSTREE_SHA256_STRING_LEN + 1];
      ostree_checksum_inplace_from_bytes (names[i].csum, csum);
      gboolean have = FALSE;
      if (!ostree_repo_has_object (repo, names[i].type, csum, &have, NULL,
                                   error))
        return FALSE;
      out_have[i] = have ? 1 : 0;
    }
  return TRUE;
}

gboolean
opush_load_metadata (OstreeRepo *repo, int type, const char *csum,
                     guint8 **out_data, gsize *out_len, GError **error)
{
  g_autoptr(GVariant) v = NULL;
  if (!ostree_repo_load_variant (repo, type, csum, &v, error))
    return FALSE;
  *out_len = g_variant_get_size (v);
  *out_data = g_memdup2 (g_variant_get_data (v), *out_len);
  return TRUE;
}

gboolean
opush_read_commitmeta (OstreeRepo *repo, const char *csum, guint8 **out_data,
                       gsize *out_len, GError **error)
{
  g_autoptr(GVariant) v = NULL;
  *out_data = NULL;
  *out_len = 0;
  if (!ostree_repo_read_commit_detached_metadata (repo, csum, &v, NULL, error))
    return FALSE;
  if (v == NULL)
    return TRUE;
  *out_len = g_variant_get_size (v);
  *out_data = g_memdup2 (g_variant_get_data (v), *out_len);
  return TRUE;
}

gboolean
opush_open_content (OstreeRepo *repo, const char *csum,
                    GInputStream **out_stream, guint64 *out_size,
                    GError **error)
{
  return ostree_repo_load_object_stream (repo, OSTREE_OBJECT_TYPE_FILE, csum,
                                         out_stream, out_size, NULL, error);
}

gssize
opush_stream_read (GInputStream *stream, void *buf, gsize len, GError **error)
{
  gsize n = 0;
  if (!g_input_stream_read_all (stream, buf, len, &n, NULL, error))
    return -1;
  return (gssize) n;
}

static gboolean
compare_csum (const char *kind, const char *expected, const guint8 *actual,
              GError **error)
{
  char actual_hex[OSTREE_SHA256_STRING_LEN + 1];
  ostree_checksum_inplace_from_bytes (actual, actual_hex);
  if (strcmp (expected, actual_hex) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Corrupted %s object; checksum expected='%s' actual='%s'",
                   kind, expected, actual_hex);
      return FALSE;
    }
  return TRUE;
}

gboolean
opush_write_metadata (OstreeRepo *repo, int type, const char *csum,
                      const guint8 *data, gsize len, GError **error)
{
  const GVariantType *vtype;
  switch (type)
    {
    case OSTREE_OBJECT_TYPE_DIR_TREE:
    case OSTREE_OBJECT_TYPE_DIR_META:
    case OSTREE_OBJECT_TYPE_COMMIT:
      vtype = ostree_metadata_variant_type (type);
      break;
    case OSTREE_OBJECT_TYPE_COMMIT_META:
      vtype = G_VARIANT_TYPE_VARDICT;
      break;
    default:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Not a metadata object type: %d", type);
      return FALSE;
    }
  /* The bytes are untrusted: GVariant checks them lazily as they are read. */
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);
  g_autoptr(GVariant) v =
    g_variant_ref_sink (g_variant_new_from_bytes (vtype, bytes, FALSE));

  if (type == OSTREE_OBJECT_TYPE_COMMIT_META)
    {
      /* Detached metadata has no checksum of its own: insist on normal form so
       * that what is stored is byte for byte what was sent. */
      if (!g_variant_is_normal_form (v))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "Detached metadata for commit %s is not in normal form", csum);
          return FALSE;
        }
      return ostree_repo_write_commit_detached_metadata (repo, csum, v, NULL, error);
    }

  /* Passing out_csum as well makes libostree hash what it writes; compare
   * it ourselves too, because libostree returns early without comparing when
   * it already holds an object with the actual checksum. */
  g_autofree guchar *out_csum = NULL;
  if (!ostree_repo_write_metadata (repo, type, csum, v, &out_csum, NULL, error))
    return FALSE;
  return compare_csum (ostree_object_type_to_string (type), csum, out_csum, error);
}

gboolean
opush_write_content (OstreeRepo *repo, const char *csum, const guint8 *data,
                     int fd, guint64 length, GError **error)
{
  g_autoptr(GInputStream) in = NULL;
  if (data != NULL)
    in = g_memory_input_stream_new_from_data (data, length, NULL);
  else
    in = g_unix_input_stream_new (fd, FALSE);

  /* expected_checksum is NULL on purpose: with it, libostree returns early,
   * without reading the stream, when it already has an object of that name,
   * and in 2022.7 it only verifies the data when out_csum is passed too. With
   * NULL it always reads and hashes the whole stream, and we compare. */
  g_autofree guchar *out_csum = NULL;
  if (!ostree_repo_write_content (repo, NULL, in, length, &out_csum, NULL, error))
    return FALSE;
  return compare_csum ("file", csum, out_csum, error);
}

gboolean
opush_write_content_trusted (OstreeRepo *repo, const char *csum,
                             const guint8 *data, guint64 length, GError **error)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (data, length, NULL);
  /* With expected_checksum and no out_csum, 2022.7 returns early when it
   * has the object, and otherwise parses and writes the stream without
   * hashing it (write_content_object hashes only for out_csum). */
  return ostree_repo_write_content (repo, csum, in, length, NULL, NULL, error);
}

gboolean
opush_copy_object (OstreeRepo *repo, OstreeRepo *src, int type,
                   const char *csum, GError **error)
{
  if (type == OSTREE_OBJECT_TYPE_FILE)
    {
      g_autoptr(GInputStream) in = NULL;
      guint64 size = 0;
      if (!ostree_repo_load_object_stream (src, OSTREE_OBJECT_TYPE_FILE, csum,
                                           &in, &size, NULL, error))
        return FALSE;
      g_autofree guchar *out_csum = NULL;
      if (!ostree_repo_write_content (repo, NULL, in, size, &out_csum, NULL, error))
        return FALSE;
      return compare_csum ("file", csum, out_csum, error);
    }
  if (type == OSTREE_OBJECT_TYPE_COMMIT_META)
    {
      g_autoptr(GVariant) meta = NULL;
      if (!ostree_repo_read_commit_detached_metadata (src, csum, &meta, NULL, error))
        return FALSE;
      if (meta == NULL)
        return TRUE;
      return ostree_repo_write_commit_detached_metadata (repo, csum, meta, NULL, error);
    }
  g_autoptr(GVariant) v = NULL;
  if (!ostree_repo_load_variant (src, type, csum, &v, error))
    return FALSE;
  g_autofree guchar *out_csum = NULL;
  if (!ostree_repo_write_metadata (repo, type, csum, v, &out_csum, NULL, error))
    return FALSE;
  return compare_csum (ostree_object_type_to_string (type), csum, out_csum, error);
}

gboolean
opush_static_delta_generate (OstreeRepo *repo, const char *from,
                             const char *to, GError **error)
{
  /* libostree looks its parameters up without checking for NULL. */
  GVariant *params = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  gboolean ok = ostree_repo_static_delta_generate (repo,
                                                   OSTREE_STATIC_DELTA_GENERATE_OPT_MAJOR,
                                                   from, to, NULL, params,
                                                   NULL, error);
  g_variant_unref (params);
  return ok;
}

gboolean
opush_list_static_delta_names (OstreeRepo *repo, char ***out_names, GError **error)
{
  g_autoptr(GPtrArray) names = NULL;
  if (!ostree_repo_list_static_delta_names (repo, &names, NULL, error))
    return FALSE;
  g_ptr_array_set_free_func (names, NULL); /* the strings go to the strv */
  g_ptr_array_add (names, NULL);
  *out_names = (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
  return TRUE;
}

gboolean
opush_mark_partial (OstreeRepo *repo, const char *commit, gboolean partial,
                    GError **error)
{
  return ostree_repo_mark_commit_partial (repo, commit, partial, error);
}

gboolean
opush_prune_from_reachable (OstreeRepo *repo, GHashTable *reachable,
                            gint *out_total, gint *out_pruned,
                            guint64 *out_freed, GError **error)
{
  OstreeRepoPruneOptions opts = { .flags = OSTREE_REPO_PRUNE_FLAGS_NONE, .reachable = reachable };
  return ostree_repo_prune_from_reachable (repo, &opts, out_total, out_pruned,
                                           out_freed, NULL, error);
}

gboolean
opush_validate_metadata (guint8 objtype, const guint8 *data, gsize len,
                         GError **error)
{
  const GVariantType *type = ostree_metadata_variant_type ((OstreeObjectType) objtype);
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);
  g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_from_bytes (type, bytes, FALSE));
  switch ((OstreeObjectType) objtype)
    {
    case OSTREE_OBJECT_TYPE_COMMIT:
      return ostree_validate_structureof_commit (v, error);
    case OSTREE_OBJECT_TYPE_DIR_TREE:
      return ostree_validate_structureof_dirtree (v, error);
    case OSTREE_OBJECT_TYPE_DIR_META:
      return ostree_validate_structureof_dirmeta (v, error);
    default:
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "object type %u has no structure check", objtype);
      return FALSE;
    }
}
