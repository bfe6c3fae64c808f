# The tessera command.
tessera_SOURCES = cli/main.c cli/cli.h cli/common.c cli/cmd_plugins.c cli/cmd_profile.c \
	cli/deploy.c cli/deploy.h cli/cmd_run.c cli/cmd_bench.c \
	cli/cmd_plan.c cli/plan_common.c cli/plan_common.h cli/sigbus.c
# The commands use core internals (profile, planner) that libtessera.so does
# not export, so the command links the core whole.
tessera_LDADD = libtessera_core.la
# tessera serve: HTTP (libmicrohttpd) and JSON (jansson) over the runtime API.
tessera_SOURCES += cli/cmd_serve.c cli/serve.h cli/serve_http.c cli/serve_http.h \
	cli/serve_openai.h cli/serve_request.c cli/serve_response.c \
	cli/serve_sched.c cli/serve_sched.h cli/serve_choice.c cli/serve_choice.h
tessera_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
tessera_LDADD += $(MHD_LIBS) $(JANSSON_LIBS)
# The server's benchmark against llama-server (not a test).
EXTRA_DIST += contrib/bench/serve_compare.sh
