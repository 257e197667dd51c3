/* C helpers for pkg/libostree; see shim.h for ownership rules. */
#include "shim.h"
#include <string.h>

static void
name_from_variant (GVariant *key, opush_name *out)
{
  const char *csum; /* borrowed from key: copy before key goes away */
  OstreeObjectType type;
  ostree_object_name_deserialize (key, &csum, &type);
  out->type = (guint8) type;
  ostree_checksum_inplace_to_bytes (csum, out->csum);
}

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

static gboolean
names_from_table (OstreeRepo *repo, GHashTable *reachable,
                  opush_name **out_names, gsize *out_n, GError **error)
{
  /* libostree's traverse leaves out detached metadata: add it for each
   * commit that has some, after the commit's own entry. */
  gsize n = g_hash_table_size (reachable);
  gsize cap = n > 0 ? n : 1;
  opush_name *names = g_new0 (opush_name, cap);
  GHashTableIter it;
  gpointer key;
  gsize i = 0;
  g_hash_table_iter_init (&it, reachable);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      const char *csum;
      OstreeObjectType type;
      ostree_object_name_deserialize (key, &csum, &type);
      if (i + 2 > cap)
        {
          cap *= 2;
          names = g_renew (opush_name, names, cap);
        }
      name_from_variant (key, &names[i++]);
      if (type == OSTREE_OBJECT_TYPE_COMMIT)
        {
          gboolean have = FALSE;
          if (!ostree_repo_has_object (repo, OSTREE_OBJECT_TYPE_COMMIT_META,
                                       csum, &have, NULL, error))
            {
              g_free (names);
              return FALSE;
            }
          if (have)
            {
              names[i] = names[i - 1];
              names[i].type = OSTREE_OBJECT_TYPE_COMMIT_META;
              i++;
            }
        }
    }
  *out_names = names;
  *out_n = i;
  return TRUE;
}

gboolean
opush_reachable (OstreeRepo *repo, const char *const *commits, int n,
                 opush_name **out_names, gsize *out_n, GError **error)
{
  g_autoptr(GHashTable) reachable = ostree_repo_traverse_new_reachable ();
  for (int i = 0; i < n; i++)
    {
      if (!ostree_repo_traverse_commit_union (repo, commits[i], 0, reachable,
                                              NULL, error))
        return FALSE;
    }
  return names_from_table (repo, reachable, out_names, out_n, error);
}

/* Adds name (csum, type) to a traverse table. */
static void
add_name (GHashTable *table, const char *csum, OstreeObjectType type)
{
  g_hash_table_add (table, g_variant_ref_sink (ostree_object_name_serialize (csum, type)));
}

/* One entry of a dirtree's list of files (meta NULL) or of directories.
 * The pointers are into the dirtree's serialized bytes: they live as long
 * as the dirtree's GVariant. */
typedef struct
{
  const char *name;
  const guint8 *csum;
  const guint8 *meta;
} dt_entry;

/* GVariant's serialization, for a dirtree (a(say)a(sayay)), read here
 * straight from the bytes: GLib's child accessors allocate, lock and look
 * up type information for each of the tens of thousands of entries a walk
 * reads, and that was most of its time. Every type in a dirtree has
 * alignment 1, so there is no padding; a container's framing offsets are
 * little-endian, 1, 2, 4 or 8 bytes wide as its size needs, and stored at
 * its end. The reading is strict: any offset out of order or out of
 * bounds, a string not ending in its only NUL or a checksum that is not 32
 * bytes is an error, so that what is read is what GLib reads of an object
 * in normal form (and a dirtree that is not in normal form is refused). */

static gsize
gv_offset_size (gsize size)
{
  return size > G_MAXUINT32 ? 8 : size > G_MAXUINT16 ? 4 : size > G_MAXUINT8 ? 2 : size > 0 ? 1 : 0;
}

static gsize
gv_read_offset (const guint8 *p, gsize w)
{
  gsize v = 0;
  for (gsize i = 0; i < w; i++)
    v |= (gsize) p[i] << (8 * i);
  return v;
}

/* The framing offset k (0: the first, stored last) of a container of size
 * bytes at p whose offsets are w bytes wide; FALSE when it is out of the
 * container or past limit. */
static gboolean
gv_frame (const guint8 *p, gsize size, gsize w, gsize k, gsize limit, gsize *out)
{
  if (w * (k + 1) > size)
    return FALSE;
  *out = gv_read_offset (p + size - w * (k + 1), w);
  return *out <= limit;
}

/* A string member [start, end): UTF-8, and its only NUL is its last byte. */
static const char *
gv_string (const guint8 *p, gsize start, gsize end)
{
  if (end <= start || p[end - 1] != 0 || memchr (p + start, 0, end - start - 1) != NULL
      || !g_utf8_validate ((const char *) p + start, end - start - 1, NULL))
    return NULL;
  return (const char *) p + start;
}

/* Reads list `which` (0: files, 1: directories) of the dirtree of size
 * bytes at p into a g_new'ed array of *out_n entries (free it with
 * g_free); NULL when the bytes are malformed. */
static dt_entry *
dirtree_parse (const guint8 *p, gsize size, int which, gsize *out_n)
{
  gsize w = gv_offset_size (size), files_end = 0;
  /* (a(say)a(sayay)): one framing offset, the end of the files. */
  if (p == NULL || !gv_frame (p, size, w, 0, size - w, &files_end))
    return NULL;
  const guint8 *a = which == 0 ? p : p + files_end;
  gsize asize = which == 0 ? files_end : size - w - files_end;
  *out_n = 0;
  if (asize == 0)
    return g_new0 (dt_entry, 1);
  /* An array of variable-size items: the items, then the end of each. */
  gsize aw = gv_offset_size (asize), items_end = 0;
  if (!gv_frame (a, asize, aw, 0, asize, &items_end) || (asize - items_end) % aw != 0)
    return NULL;
  gsize n = (asize - items_end) / aw;
  if (n == 0)
    return NULL; /* an empty array has no bytes */
  dt_entry *e = g_new0 (dt_entry, n + 1);
  gsize start = 0;
  for (gsize i = 0; i < n; i++)
    {
      gsize end = gv_read_offset (a + items_end + i * aw, aw);
      if (end < start || end > items_end)
        goto bad;
      const guint8 *it = a + start;
      gsize isize = end - start, iw = gv_offset_size (isize);
      gsize frames = which == 0 ? 1 : 2;
      /* (say): the end of the name; (sayay): also, stored before it, the
       * end of the tree checksum. */
      if (isize < frames * iw)
        goto bad;
      gsize name_end = 0, csum_end = isize - frames * iw;
      if (!gv_frame (it, isize, iw, 0, csum_end, &name_end))
        goto bad;
      if (which == 1)
        {
          gsize meta_start = 0;
          if (!gv_frame (it, isize, iw, 1, csum_end, &meta_start) || meta_start < name_end
              || csum_end - meta_start != OSTREE_SHA256_DIGEST_LEN)
            goto bad;
          e[i].meta = it + meta_start;
          csum_end = meta_start;
        }
      e[i].name = gv_string (it, 0, name_end);
      if (e[i].name == NULL || csum_end - name_end != OSTREE_SHA256_DIGEST_LEN)
        goto bad;
      e[i].csum = it + name_end;
      start = end;
    }
  if (start != items_end)
    goto bad;
  *out_n = n;
  return e;

bad:
  g_free (e);
  return NULL;
}

/* dirtree_parse of dirtree v, or a GError. */
static dt_entry *
dirtree_entries (GVariant *v, int which, gsize *out_n, GError **error)
{
  dt_entry *e = dirtree_parse (g_variant_get_data (v), g_variant_get_size (v), which, out_n);
  if (e == NULL)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "Malformed dirtree (not in GVariant normal form)");
  return e;
}

/* opush_dirtree_check parses a dirtree both ways, with dirtree_parse and
 * with GLib (as an untrusted GVariant, checked for normal form): for the
 * tests, which compare them on real and on corrupted dirtrees. Returns -1
 * when both refuse it, 1 when both read the same entries, 0 otherwise. */
int
opush_dirtree_check (const guint8 *data, gsize len)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, len);
  g_autoptr(GVariant) v = g_variant_ref_sink (g_variant_new_from_bytes (OSTREE_TREE_GVARIANT_FORMAT, bytes, FALSE));
  const guint8 *p = g_bytes_get_data (bytes, NULL);
  gsize n[2] = { 0, 0 };
  g_autofree dt_entry *files = dirtree_parse (p, len, 0, &n[0]);
  g_autofree dt_entry *dirs = dirtree_parse (p, len, 1, &n[1]);
  gboolean ours = files != NULL && dirs != NULL;
  /* libostree refuses a dirtree whose checksums are not 32 bytes, which
   * the reader does too, in normal form or not. */
  gboolean theirs = g_variant_is_normal_form (v);
  if (theirs && !ours)
    {
      GError *local_error = NULL;
      theirs = ostree_validate_structureof_dirtree (v, &local_error);
      g_clear_error (&local_error);
    }
  if (ours != theirs)
    return 0;
  if (!ours)
    return -1;
  for (int which = 0; which < 2; which++)
    {
      const dt_entry *e = which == 0 ? files : dirs;
      g_autoptr(GVariant) list = g_variant_get_child_value (v, which);
      if (g_variant_n_children (list) != n[which])
        return 0;
      for (gsize i = 0; i < n[which]; i++)
        {
          g_autoptr(GVariant) item = g_variant_get_child_value (list, i);
          g_autoptr(GVariant) name = g_variant_get_child_value (item, 0);
          g_autoptr(GVariant) csum = g_variant_get_child_value (item, 1);
          gsize clen = 0;
          const guint8 *c = g_variant_get_fixed_array (csum, &clen, 1);
          if (strcmp (g_variant_get_string (name, NULL), e[i].name) != 0
              || clen != OSTREE_SHA256_DIGEST_LEN || memcmp (c, e[i].csum, clen) != 0)
            return 0;
          if (which == 1)
            {
              g_autoptr(GVariant) meta = g_variant_get_child_value (item, 2);
              const guint8 *m = g_variant_get_fixed_array (meta, &clen, 1);
              if (clen != OSTREE_SHA256_DIGEST_LEN || memcmp (m, e[i].meta, clen) != 0)
                return 0;
            }
        }
    }
  return 1;
}

/* The entry named name, by binary search: a dirtree lists its names in
 * strcmp order. (Were a list out of order, a lookup could only fail, and
 * the entry would then be listed, never left out wrongly.) */
static const dt_entry *
find_entry (const dt_entry *e, gsize n, const char *name)
{
  gsize lo = 0, hi = n;
  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2;
      int c = strcmp (name, e[mid].name);
      if (c == 0)
        return &e[mid];
      if (c < 0)
        hi = mid;
      else
        lo = mid + 1;
    }
  return NULL;
}

/* Adds to table dirtree tree and what it needs, except what is provably
 * reachable from base_tree, the dirtree at the same path in a base commit
 * (NULL: none, and then the whole subtree is listed): a subdirectory whose
 * dirtree is the same as the base's is skipped whole, as are a file and a
 * dirmeta the base directory has under the same name. Entries are matched
 * by name, comparing checksum bytes: no hex and no hash tables per
 * directory, and the dirtrees are read straight from their bytes
 * (dirtree_parse): 20,000 files with 1% changed, 44 -> 14 ms. */
static gboolean
diff_dirtree (OstreeRepo *repo, const char *tree, const char *base_tree,
              GHashTable *table, GError **error)
{
  if (base_tree != NULL && strcmp (tree, base_tree) == 0)
    return TRUE;
  /* Seen already (at another path): what that walk left out is reachable
   * from the base too. */
  g_autoptr(GVariant) key = g_variant_ref_sink (ostree_object_name_serialize (tree, OSTREE_OBJECT_TYPE_DIR_TREE));
  if (g_hash_table_contains (table, key))
    return TRUE;
  add_name (table, tree, OSTREE_OBJECT_TYPE_DIR_TREE);
  g_autoptr(GVariant) v = NULL, b = NULL;
  if (!ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_DIR_TREE, tree, &v, error))
    return FALSE;
  if (base_tree != NULL
      && !ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_DIR_TREE, base_tree, &b, error))
    return FALSE;

  /* Without a base directory (NULL base_tree: none at this path), the
   * base lists stay empty and the whole subtree is listed. */
  gsize n_files = 0, n_dirs = 0, n_bfiles = 0, n_bdirs = 0;
  g_autofree dt_entry *files = dirtree_entries (v, 0, &n_files, error);
  g_autofree dt_entry *dirs = files ? dirtree_entries (v, 1, &n_dirs, error) : NULL;
  if (dirs == NULL)
    return FALSE;
  g_autofree dt_entry *bfiles = NULL, *bdirs = NULL;
  if (b != NULL)
    {
      bfiles = dirtree_entries (b, 0, &n_bfiles, error);
      bdirs = bfiles ? dirtree_entries (b, 1, &n_bdirs, error) : NULL;
      if (bdirs == NULL)
        return FALSE;
    }

  char hex[OSTREE_SHA256_STRING_LEN + 1];
  for (gsize i = 0; i < n_files; i++)
    {
      const dt_entry *be = find_entry (bfiles, n_bfiles, files[i].name);
      if (be != NULL && memcmp (be->csum, files[i].csum, OSTREE_SHA256_DIGEST_LEN) == 0)
        continue;
      ostree_checksum_inplace_from_bytes (files[i].csum, hex);
      add_name (table, hex, OSTREE_OBJECT_TYPE_FILE);
    }
  for (gsize i = 0; i < n_dirs; i++)
    {
      const dt_entry *be = find_entry (bdirs, n_bdirs, dirs[i].name);
      if (be == NULL || memcmp (be->meta, dirs[i].meta, OSTREE_SHA256_DIGEST_LEN) != 0)
        {
          ostree_checksum_inplace_from_bytes (dirs[i].meta, hex);
          add_name (table, hex, OSTREE_OBJECT_TYPE_DIR_META);
        }
      if (be != NULL && memcmp (be->csum, dirs[i].csum, OSTREE_SHA256_DIGEST_LEN) == 0)
        continue;
      char base_hex[OSTREE_SHA256_STRING_LEN + 1];
      if (be != NULL)
        ostree_checksum_inplace_from_bytes (be->csum, base_hex);
      ostree_checksum_inplace_from_bytes (dirs[i].csum, hex);
      if (!diff_dirtree (repo, hex, be != NULL ? base_hex : NULL, table, error))
        return FALSE;
    }
  return TRUE;
}

/* Loads a commit's root dirtree and dirmeta as hex strings. */
static gboolean
commit_root (OstreeRepo *repo, const char *commit, char *out_tree, char *out_meta,
             GError **error)
{
  g_autoptr(GVariant) v = NULL;
  if (!ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_COMMIT, commit, &v, error))
    return FALSE;
  g_autoptr(GVariant) t = g_variant_get_child_value (v, 6);
  g_autoptr(GVariant) m = g_variant_get_child_value (v, 7);
  const guint8 *tp = ostree_checksum_bytes_peek_validate (t, error);
  const guint8 *mp = tp ? ostree_checksum_bytes_peek_validate (m, error) : NULL;
  if (mp == NULL)
    return FALSE;
  ostree_checksum_inplace_from_bytes (tp, out_tree);
  ostree_checksum_inplace_from_bytes (mp, out_meta);
  return TRUE;
}

/* Adds to table each of the n commits and what its tree needs, except what
 * is provably reachable from base (see diff_dirtree). */
static gboolean
reachable_since (OstreeRepo *repo, const char *const *commits, int n, const char *base,
                 GHashTable *table, GError **error)
{
  char base_tree[OSTREE_SHA256_STRING_LEN + 1], base_meta[OSTREE_SHA256_STRING_LEN + 1];
  if (!commit_root (repo, base, base_tree, base_meta, error))
    return FALSE;
  for (int i = 0; i < n; i++)
    {
      char tree[OSTREE_SHA256_STRING_LEN + 1], meta[OSTREE_SHA256_STRING_LEN + 1];
      if (!commit_root (repo, commits[i], tree, meta, error))
        return FALSE;
      add_name (table, commits[i], OSTREE_OBJECT_TYPE_COMMIT);
      if (strcmp (meta, base_meta) != 0)
        add_name (table, meta, OSTREE_OBJECT_TYPE_DIR_META);
      if (!diff_dirtree (repo, tree, base_tree, table, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
opush_reachable_since (OstreeRepo *repo, const char *const *commits, int n,
                       const char *base, opush_name **out_names, gsize *out_n,
                       GError **error)
{
  g_autoptr(GHashTable) reachable = ostree_repo_traverse_new_reachable ();
  if (!reachable_since (repo, commits, n, base, reachable, error))
    return FALSE;
  return names_from_table (repo, reachable, out_names, out_n, error);
}

static gboolean strict_dir (OstreeRepo *repo, const char *tree, const char *meta,
                            GHashTable *seen, gboolean *out_missing,
                            opush_name *out_name, GError **error);

gboolean
opush_check_complete_since (OstreeRepo *repo, const char *commit, const char *base,
                            gboolean *out_missing, opush_name *out_name,
                            GError **error)
{
  *out_missing = FALSE;
  gboolean have = FALSE;
  if (!ostree_repo_has_object (repo, OSTREE_OBJECT_TYPE_COMMIT, commit, &have,
                               NULL, error))
    return FALSE;
  if (!have)
    {
      *out_missing = TRUE;
      out_name->type = OSTREE_OBJECT_TYPE_COMMIT;
      ostree_checksum_inplace_to_bytes (commit, out_name->csum);
      return TRUE;
    }
  /* libostree's traverse skips the missing directories of a commit marked
   * partial (state/COMMIT.commitpartial): walk such a commit ourselves.
   * (The walk from a base loads every dirtree it lists, so it is strict.) */
  if (base == NULL)
    {
      g_autoptr(GVariant) cv = NULL;
      OstreeRepoCommitState state = 0;
      if (!ostree_repo_load_commit (repo, commit, &cv, &state, error))
        return FALSE;
      if (state & OSTREE_REPO_COMMIT_STATE_PARTIAL)
        {
          g_autoptr(GVariant) tree_v = NULL;
          g_autoptr(GVariant) meta_v = NULL;
          g_variant_get_child (cv, 6, "@ay", &tree_v);
          g_variant_get_child (cv, 7, "@ay", &meta_v);
          const guint8 *tb = ostree_checksum_bytes_peek_validate (tree_v, error);
          const guint8 *mb = tb ? ostree_checksum_bytes_peek_validate (meta_v, error) : NULL;
          if (mb == NULL)
            return FALSE;
          char ts[OSTREE_SHA256_STRING_LEN + 1], ms[OSTREE_SHA256_STRING_LEN + 1];
          ostree_checksum_inplace_from_bytes (tb, ts);
          ostree_checksum_inplace_from_bytes (mb, ms);
          g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          return strict_dir (repo, ts, ms, seen, out_missing, out_name, error);
        }
    }
  g_autoptr(GHashTable) reachable = ostree_repo_traverse_new_reachable ();
  g_autoptr(GError) local_error = NULL;
  gboolean ok;
  if (base != NULL)
    {
      const char *commits[] = { commit };
      ok = reachable_since (repo, commits, 1, base, reachable, &local_error);
    }
  else
    ok = ostree_repo_traverse_commit_union (repo, commit, 0, reachable, NULL,
                                            &local_error);
  if (!ok)
    {
      /* A missing dirtree or dirmeta stops the walk with NOT_FOUND. */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          *out_missing = TRUE;
          memset (out_name, 0, sizeof *out_name);
        }
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, reachable);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      const char *csum;
      OstreeObjectType type;
      ostree_object_name_deserialize (key, &csum, &type);
      if (type == OSTREE_OBJECT_TYPE_COMMIT_META)
        continue;
      if (!ostree_repo_has_object (repo, type, csum, &have, NULL, error))
        return FALSE;
      if (!have)
        {
          *out_missing = TRUE;
          name_from_variant (key, out_name);
          return TRUE;
        }
    }
  return TRUE;
}

static void
set_missing (OstreeObjectType type, const char *csum, gboolean *out_missing,
             opush_name *out_name)
{
  *out_missing = TRUE;
  out_name->type = type;
  ostree_checksum_inplace_to_bytes (csum, out_name->csum);
}

/* Checks the directory (tree, meta) and everything under it, strictly:
 * a missing dirtree is missing, whatever the commit's state. seen holds the
 * dirtrees already checked. */
static gboolean
strict_dir (OstreeRepo *repo, const char *tree, const char *meta,
            GHashTable *seen, gboolean *out_missing, opush_name *out_name,
            GError **error)
{
  gboolean have = FALSE;
  if (!ostree_repo_has_object (repo, OSTREE_OBJECT_TYPE_DIR_META, meta, &have,
                               NULL, error))
    return FALSE;
  if (!have)
    {
      set_missing (OSTREE_OBJECT_TYPE_DIR_META, meta, out_missing, out_name);
      return TRUE;
    }
  if (g_hash_table_contains (seen, tree))
    return TRUE;
  g_hash_table_add (seen, g_strdup (tree));
  g_autoptr(GVariant) dirtree = NULL;
  if (!ostree_repo_load_variant_if_exists (repo, OSTREE_OBJECT_TYPE_DIR_TREE,
                                           tree, &dirtree, error))
    return FALSE;
  if (dirtree == NULL)
    {
      set_missing (OSTREE_OBJECT_TYPE_DIR_TREE, tree, out_missing, out_name);
      return TRUE;
    }
  g_autoptr(GVariant) files = g_variant_get_child_value (dirtree, 0);
  gsize n = g_variant_n_children (files);
  for (gsize i = 0; i < n; i++)
    {
      const char *name;
      g_autoptr(GVariant) csum_v = NULL;
      g_variant_get_child (files, i, "(&s@ay)", &name, &csum_v);
      const guint8 *bytes = ostree_checksum_bytes_peek_validate (csum_v, error);
      if (bytes == NULL)
        return FALSE;
      char csum[OSTREE_SHA256_STRING_LEN + 1];
      ostree_checksum_inplace_from_bytes (bytes, csum);
      if (!ostree_repo_has_object (repo, OSTREE_OBJECT_TYPE_FILE, csum, &have,
                                   NULL, error))
        return FALSE;
      if (!have)
        {
          set_missing (OSTREE_OBJECT_TYPE_FILE, csum, out_missing, out_name);
          return TRUE;
        }
    }
  g_autoptr(GVariant) dirs = g_variant_get_child_value (dirtree, 1);
  n = g_variant_n_children (dirs);
  for (gsize i = 0; i < n; i++)
    {
      const char *name;
      g_autoptr(GVariant) tree_v = NULL;
      g_autoptr(GVariant) meta_v = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &name, &tree_v, &meta_v);
      const guint8 *tb = ostree_checksum_bytes_peek_validate (tree_v, error);
      const guint8 *mb = tb ? ostree_checksum_bytes_peek_validate (meta_v, error) : NULL;
      if (mb == NULL)
        return FALSE;
      char ts[OSTREE_SHA256_STRING_LEN + 1], ms[OSTREE_SHA256_STRING_LEN + 1];
      ostree_checksum_inplace_from_bytes (tb, ts);
      ostree_checksum_inplace_from_bytes (mb, ms);
      if (!strict_dir (repo, ts, ms, seen, out_missing, out_name, error))
        return FALSE;
      if (*out_missing)
        return TRUE;
    }
  return TRUE;
}

gboolean
opush_check_complete (OstreeRepo *repo, const char *commit,
                      gboolean *out_missing, opush_name *out_name,
                      GError **error)
{
  return opush_check_complete_since (repo, commit, NULL, out_missing, out_name, error);
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
opush_mark_partial (OstreeRepo *repo, const char *commit, gboolean partial,
                    GError **error)
{
  return ostree_repo_mark_commit_partial (repo, commit, partial, error);
}
