# The tessera command.
tessera_SOURCES = cli/main.c cli/cli.h cli/common.c cli/cmd_plugins.c cli/cmd_plugin.c cli/cmd_profile.c \
	cli/options.c cli/options.h cli/session.c cli/session.h \
	cli/cmd_run.c cli/cmd_bench.c cli/bench_spec.c cli/bench_spec.h cli/cmd_plan.c cli/sigbus.c cli/dist.c \
	cli/cmd_perplexity.c cli/logits_file.c cli/logits_file.h cli/cmd_quantize.c
# The command is the runtime API's first client: include/ alone (no core/ on
# its include path) and libtessera, whose exports are that API.
tessera_CPPFLAGS = -I$(top_srcdir)/include -I$(top_builddir) -D_GNU_SOURCE \
	-DTSR_PLUGIN_DIR='"$(pluginsdir)"' -DTSR_SYSCONF_DIR='"$(sysconfdir)"' \
	-DTSR_DOC_DIR='"$(docdir)"'
tessera_LDADD = libtessera.la
# tessera serve: HTTP (libmicrohttpd) and JSON (jansson) over the runtime API.
tessera_SOURCES += cli/cmd_serve.c cli/serve.h cli/serve_http.c cli/serve_http.h \
	cli/serve_openai.h cli/serve_request.c cli/serve_response.c \
	cli/serve_sched.c cli/serve_sched.h cli/serve_choice.c cli/serve_choice.h
tessera_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS) $(JANSSON_CFLAGS)
tessera_LDADD += $(MHD_LIBS) $(JANSSON_LIBS)
# The server's benchmark against llama-server (not a test).
EXTRA_DIST += contrib/bench/serve_compare.sh
