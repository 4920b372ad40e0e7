/* Links libtcmalloc and is never loaded (see CMakeLists.txt and
 * tcmalloc.cpp's tcmalloc_library): the wheel's repair tool bundles what a
 * file of the package links, and tcmalloc is only ever preloaded. */
int yep_tcmalloc_anchor(void) { return 0; }
