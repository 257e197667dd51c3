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

/* ostree_repo_gpg_sign_data on len bytes of data, with no old signatures:
 * *out (g_free it) is the a{sv} of the signatures, *out_len its size. */
gboolean opush_gpg_sign_data (OstreeRepo *repo, const guint8 *data, gsize len,
                              const char **key_ids, const char *homedir,
                              guint8 **out, gsize *out_len, GError **error);

#endif
