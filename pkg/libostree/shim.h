/* C helpers for pkg/libostree.
 *
 * Each helper wraps one logical libostree operation so that Go crosses into
 * C once per operation, not once per GLib call. Ownership is stated on every
 * helper: anything returned through an out-parameter is owned by the caller
 * (Go) and must be freed with the function named there.
 */
#ifndef OSTREEPUSH_SHIM_H
#define OSTREEPUSH_SHIM_H

#include <fcntl.h>
#include <stdlib.h>
#include <ostree.h>
#include <gio/gunixinputstream.h>

#if !OSTREE_CHECK_VERSION(2022, 7)
#error "pkg/libostree needs libostree 2022.7 or newer (Debian 12 ships 2022.7)"
/* ostree_repo_prune_from_reachable with no flags: every object not in
 * reachable is deleted, and the static deltas to commits no longer there. */
gboolean opush_prune_from_reachable (OstreeRepo *repo, GHashTable *reachable,
                                     gint *out_total, gint *out_pruned,
                                     guint64 *out_freed, GError **error);

/* The structure checks ostree_repo_write_metadata makes of a commit,
 * dirtree or dirmeta (_ostree_validate_structureof_metadata), on data read
 * as that object's GVariant type: ostree_validate_structureof_commit,
 * _dirtree or _dirmeta. */
gboolean opush_validate_metadata (guint8 objtype, const guint8 *data,
                                  gsize len, GError **error);

#endif

/* One object name as it crosses to Go: type and binary checksum. */
typedef struct {
  guint8 type;
  guint8 csum[32];
} opush_name;

/* Lists refs; out_names and out_csums are NULL-terminated, free with g_strfreev.
 * For collection refs, out_cids holds each ref's collection id. */
gboolean opush_list_refs (OstreeRepo *repo, const char *prefix, int flags,
                          char ***out_names, char ***out_csums, GError **error);
gboolean opush_list_collection_refs (OstreeRepo *repo, int flags,
                                     char ***out_cids, char ***out_names,
                                     char ***out_csums, GError **error);

/* Loads a commit. out_parent/out_root_tree/out_root_meta are 32-byte buffers
 * the caller provides; *out_has_parent says whether out_parent was filled.
 * out_subject and out_body are g_strdup'ed: free with g_free. */
gboolean opush_load_commit (OstreeRepo *repo, const char *csum,
                            guint8 *out_parent, gboolean *out_has_parent,
                            guint8 *out_root_tree, guint8 *out_root_meta,
                            guint64 *out_timestamp, char **out_subject,
                            char **out_body, gboolean *out_partial,
                            GError **error);

/* Marks commit as partial (state/COMMIT.commitpartial) or not. */
gboolean opush_mark_partial (OstreeRepo *repo, const char *commit,
                             gboolean partial, GError **error);

/* has_object for n names at once; out_have[i] is set to 0 or 1. */
gboolean opush_has_objects (OstreeRepo *repo, const opush_name *names, gsize n,
                            guint8 *out_have, GError **error);

/* Loads a metadata object's serialized bytes. *out_data is g_malloc'ed. */
gboolean opush_load_metadata (OstreeRepo *repo, int type, const char *csum,
                              guint8 **out_data, gsize *out_len, GError **error);

/* Reads detached metadata. *out_data is NULL (and *out_len 0) when there is
 * none; otherwise g_malloc'ed. */
gboolean opush_read_commitmeta (OstreeRepo *repo, const char *csum,
                                guint8 **out_data, gsize *out_len, GError **error);

/* Opens a content object as libostree's content stream (header + data).
 * *out_stream is a new reference: g_object_unref it. */
gboolean opush_open_content (OstreeRepo *repo, const char *csum,
                             GInputStream **out_stream, guint64 *out_size,
                             GError **error);

/* Reads up to len bytes; returns bytes read, 0 at end, -1 on error. */
gssize opush_stream_read (GInputStream *stream, void *buf, gsize len, GError **error);

/* Writes a metadata object from untrusted bytes, verifying that they hash to
 * csum. For OSTREE_OBJECT_TYPE_COMMIT_META, csum names the commit and the
 * bytes must be an a{sv} in normal form. Nothing is borrowed past the call. */
gboolean opush_write_metadata (OstreeRepo *repo, int type, const char *csum,
                               const guint8 *data, gsize len, GError **error);

/* Writes a content object from a content stream of exactly length bytes
 * (from memory when data != NULL, else from file descriptor fd), verifying
 * that it hashes to csum. libostree reads exactly the length the header
 * implies; the caller checks that a symlink carries no data. */
gboolean opush_write_content (OstreeRepo *repo, const char *csum,
                              const guint8 *data, int fd, guint64 length,
                              GError **error);

/* Writes a content object from a content stream of length bytes in memory
 * under the name csum WITHOUT hashing it: the caller has verified that the
 * stream hashes to csum. Nothing is written when the object is there. */
gboolean opush_write_content_trusted (OstreeRepo *repo, const char *csum,
                                      const guint8 *data, guint64 length,
                                      GError **error);

/* Copies one object from src into repo (in repo's transaction): a load and a
 * verified write in one call. Used where crossing into C per step costs. */
gboolean opush_copy_object (OstreeRepo *repo, OstreeRepo *src, int type,
                            const char *csum, GError **error);

/* ostree_repo_static_delta_generate with the ostree CLI's defaults (empty
 * parameters, OSTREE_STATIC_DELTA_GENERATE_OPT_MAJOR); from NULL: a delta
 * from scratch. */
gboolean opush_static_delta_generate (OstreeRepo *repo, const char *from,
                                      const char *to, GError **error);

/* ostree_repo_list_static_delta_names; *out_names is NULL-terminated, free
 * with g_strfreev. */
gboolean opush_list_static_delta_names (OstreeRepo *repo, char ***out_names,
                                        GError **error);

/* ostree_repo_prune_from_reachable with no flags: every object not in
 * reachable is deleted, and the static deltas to commits no longer there. */
gboolean opush_prune_from_reachable (OstreeRepo *repo, GHashTable *reachable,
                                     gint *out_total, gint *out_pruned,
                                     guint64 *out_freed, GError **error);

/* The structure checks ostree_repo_write_metadata makes of a commit,
 * dirtree or dirmeta (_ostree_validate_structureof_metadata), on data read
 * as that object's GVariant type: ostree_validate_structureof_commit,
 * _dirtree or _dirmeta. */
gboolean opush_validate_metadata (guint8 objtype, const guint8 *data,
                                  gsize len, GError **error);

#endif
