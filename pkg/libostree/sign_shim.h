/* C helpers for pkg/libostree's signature and summary calls (sign.go).
 *
 * Same rules as shim.h: one helper per logical operation, and everything
 * returned through an out-parameter is owned by the caller (Go) and freed
 * with the function named there.
 */
#ifndef OSTREEPUSH_SIGN_SHIM_H
#define OSTREEPUSH_SIGN_SHIM_H

#include "shim.h"

/* One GPG signature as libostree's OstreeGpgVerifyResult describes it.
 * Strings are g_strdup'ed: free the whole array with opush_gpg_sigs_free. */
typedef struct {
  gboolean valid;
  gboolean sig_expired;
  gboolean key_expired;
  gboolean key_revoked;
  gboolean key_missing;
  gint64 timestamp;
  gint64 exp_timestamp;
  char *fingerprint;
  char *fingerprint_primary;
  char *pubkey_algo;
  char *hash_algo;
  char *user_name;
  char *user_email;
  char *description; /* ostree_gpg_verify_result_describe */
} opush_gpg_sig;

/* ostree_repo_verify_commit_ext with keyringdir and extra_keyring as paths
 * (NULL = not given), then the result copied out: *out_valid is
 * ostree_gpg_verify_result_count_valid, *out_sigs one entry per signature
 * (count_all of them, *out_n). Free *out_sigs with opush_gpg_sigs_free. */
gboolean opush_verify_commit_gpg (OstreeRepo *repo, const char *csum,
                                  const char *keyringdir, const char *keyring,
                                  guint *out_valid, opush_gpg_sig **out_sigs,
                                  guint *out_n, GError **error);

void opush_gpg_sigs_free (opush_gpg_sig *sigs, guint n);

/* Looks key up in a serialized a{sv} (untrusted bytes; len 0 is the empty
 * dictionary). *out_found is FALSE when the key is absent. When it is
 * present with a type other than aay, FALSE is returned with an error.
 * Otherwise the n children are returned concatenated in *out_data (g_free)
 * with their lengths in *out_lens (g_free). */
gboolean opush_vardict_get_aay (const guint8 *meta, gsize meta_len,
                                const char *key, gboolean *out_found,
                                guint8 **out_data, gsize **out_lens,
                                gsize *out_n, GError **error);

/* Returns a new a{sv} in normal form: meta (untrusted bytes, len 0 = empty)
 * with the value at key set to an aay. With append, the n byte strings
 * (concatenated in data, lengths in lens) are appended to the existing aay
 * (an error if the key holds another type); without, they replace the value.
 * The first entry with key is changed in place; other entries are kept in
 * their order; a missing key is added at the end. *out_data: g_free. */
gboolean opush_vardict_put_aay (const guint8 *meta, gsize meta_len,
                                const char *key, gboolean append,
                                const guint8 *data, const gsize *lens, gsize n,
                                guint8 **out_data, gsize *out_len,
                                GError **error);

/* Reads the bindings of a commit object (untrusted bytes of a commit in
 * normal form): *out_has_refs says whether its metadata has
 * ostree.ref-binding (an as), *out_refs holds them (NULL-terminated,
 * g_strfreev), *out_collection ostree.collection-binding or NULL (g_free).
 * A binding of another type counts as absent, as libostree's lookup does. */
gboolean opush_commit_bindings (const guint8 *commit, gsize len,
                                gboolean *out_has_refs, char ***out_refs,
                                char **out_collection, GError **error);

/* Returns a new a{sv} in normal form: meta (untrusted bytes, len 0 = empty)
 * without any entry whose key is key; the others are kept in their order.
 * *out_data: g_free. */
gboolean opush_vardict_remove (const guint8 *meta, gsize meta_len,
                               const char *key, guint8 **out_data,
                               gsize *out_len, GError **error);

#endif
