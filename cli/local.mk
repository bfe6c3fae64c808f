# The tessera command.
tessera_SOURCES = cli/main.c cli/cli.h cli/common.c cli/cmd_plugins.c cli/cmd_profile.c \
	cli/deploy.c cli/deploy.h cli/cmd_run.c cli/cmd_bench.c \
	cli/cmd_plan.c cli/plan_common.c cli/plan_common.h
# The commands use core internals (profile, planner) that libtessera.so does
# not export, so the command links the core whole.
tessera_LDADD = libtessera_core.la
