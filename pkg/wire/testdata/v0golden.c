// v0golden prints the version-0 message bodies of pkg/transfer/v0_test.go's
// v0Golden as GLib serializes them (g_variant_get_data), to check the Go
// codec against GLib:
//
//	gcc v0golden.c $(pkg-config --cflags --libs glib-2.0) -o /tmp/v0golden && /tmp/v0golden

#include <glib.h>
#include <stdio.h>
static void hex(const char *name, GVariant *v) {
  gsize n = g_variant_get_size(v); const guchar *d = g_variant_get_data(v);
  printf("%s %s ", name, g_variant_get_type_string(v));
  for (gsize i = 0; i < n; i++) printf("%02x", d[i]);
  printf("\n");
}
int main(void) {
  GVariantBuilder b;
  // INFO
  GVariantBuilder r; g_variant_builder_init(&r, G_VARIANT_TYPE("a{ss}"));
  g_variant_builder_add(&r, "{ss}", "os/main", "2cf59ffc9431e3c03d8755080029954b1cbe33784bb22d302797f5213c75df61");
  g_variant_builder_add(&r, "{ss}", "os/next", "9d41e475f28fe0a8c672301c54d75711dea09ece67207ac114e2281e0bc79eca");
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&b, "{sv}", "mode", g_variant_new_int32(1));
  g_variant_builder_add(&b, "{sv}", "refs", g_variant_builder_end(&r));
  hex("info", g_variant_ref_sink(g_variant_builder_end(&b)));
  // INFO with no refs
  g_variant_builder_init(&r, G_VARIANT_TYPE("a{ss}"));
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&b, "{sv}", "mode", g_variant_new_int32(2));
  g_variant_builder_add(&b, "{sv}", "refs", g_variant_builder_end(&r));
  hex("info-empty", g_variant_ref_sink(g_variant_builder_end(&b)));
  // UPDATE
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&b, "{sv}", "os/main", g_variant_new("(ss)", "0000000000000000000000000000000000000000000000000000000000000000", "2cf59ffc9431e3c03d8755080029954b1cbe33784bb22d302797f5213c75df61"));
  hex("update", g_variant_ref_sink(g_variant_builder_end(&b)));
  // PUTOBJECT
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&b, "{sv}", "object", g_variant_new_string("2cf59ffc9431e3c03d8755080029954b1cbe33784bb22d302797f5213c75df61.commit"));
  g_variant_builder_add(&b, "{sv}", "size", g_variant_new_uint64(345));
  GVariant *po = g_variant_ref_sink(g_variant_builder_end(&b));
  hex("putobject", po);
  hex("putobject-be", g_variant_byteswap(po));
  // STATUS
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&b, "{sv}", "result", g_variant_new_boolean(TRUE));
  g_variant_builder_add(&b, "{sv}", "message", g_variant_new_string(""));
  hex("status", g_variant_ref_sink(g_variant_builder_end(&b)));
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  g_variant_builder_add(&b, "{sv}", "result", g_variant_new_boolean(FALSE));
  g_variant_builder_add(&b, "{sv}", "message", g_variant_new_string("Branch os/main is at 2cf5, not 0000"));
  hex("status-false", g_variant_ref_sink(g_variant_builder_end(&b)));
  // DONE
  g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
  hex("done", g_variant_ref_sink(g_variant_builder_end(&b)));
  return 0;
}
