# The tessera command.
tessera_SOURCES = cli/main.c cli/cli.h cli/common.c cli/cmd_plugins.c
tessera_LDADD = libtessera.la
