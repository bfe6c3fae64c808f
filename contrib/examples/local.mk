# The runtime API's examples, also built in the tree (against include/ alone
# and libtessera) so the test suite can run them under valgrind;
# tests/examples.sh builds them out of tree against an installed tessera.
noinst_PROGRAMS += contrib/examples/simple contrib/examples/batched
contrib_examples_simple_SOURCES = contrib/examples/simple.c
contrib_examples_simple_CPPFLAGS = -I$(top_srcdir)/include
contrib_examples_simple_LDADD = libtessera.la
contrib_examples_batched_SOURCES = contrib/examples/batched.c
contrib_examples_batched_CPPFLAGS = -I$(top_srcdir)/include
contrib_examples_batched_LDADD = libtessera.la
EXTRA_DIST += contrib/examples/Makefile
