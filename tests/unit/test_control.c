/*
 * Unit tests for control: the socket file's life (folders, mode, stale
 * sockets, removal, the hand-over to server.user), every command's reply
 * as exact JSON, the line protocol's limits, and the JSON string escaper.
 *
 * The control loop runs in a thread of its own, as in the daemon it runs
 * beside the UDP workers; the test talks to it with plain blocking sockets,
 * as geosteerctl does, and stops it through a uv_async.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "control.h"
#include "health.h"

/* ---- the loop under test ---- */

struct harness {
	uv_loop_t loop;
	uv_async_t stop;
	pthread_t thread;
	char dir[64];
	char path[96];
	int reloads;
};

static struct harness H;

static int hook_reload(void *ctx, uint64_t *generation, char *err, size_t errlen)
{
	struct harness *h = ctx;
	if (h->reloads++ % 2) {
		snprintf(err, errlen, "geosteer.yaml:7: unknown key 'zonez'");
		return -1;
	}
	*generation = 42;
	return 0;
}

static int hook_explain(void *ctx, const char *ip, const char *name, const char *type, char *out,
                        size_t outlen)
{
	(void)ctx;
	if (strcmp(ip, "bad") == 0) {
		snprintf(out, outlen, "'bad' is not an IP address");
		return -1;
	}
	snprintf(out, outlen, "client %s\n\"%s\"\t%s\n\xff end", ip, name, type ? type : "A");
	return 0;
}

static const struct control_hooks hooks = {
    .ctx = &H,
    .version = "9.9.9",
    .config_path = "geosteer.yaml",
    .reload = hook_reload,
    .explain = hook_explain,
};

static void on_stop(uv_async_t *a)
{
	control_stop();
	uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg)
{
	(void)arg;
	uv_run(&H.loop, UV_RUN_DEFAULT);
	return NULL;
}

static int harness_start(const struct control_hooks *hk)
{
	assert_int_equal(uv_loop_init(&H.loop), 0);
	assert_int_equal(uv_async_init(&H.loop, &H.stop, on_stop), 0);
	char err[256];
	if (control_start(&H.loop, H.path, hk, err, sizeof(err)) < 0) {
		uv_close((uv_handle_t *)&H.stop, NULL);
		uv_run(&H.loop, UV_RUN_DEFAULT);
		assert_int_equal(uv_loop_close(&H.loop), 0);
		print_message("control_start: %s\n", err);
		return -1;
	}
	assert_int_equal(pthread_create(&H.thread, NULL, loop_main, NULL), 0);
	return 0;
}

static void harness_stop(void)
{
	uv_async_send(&H.stop);
	pthread_join(H.thread, NULL);
	assert_int_equal(uv_loop_close(&H.loop), 0); /* every handle closed */
}

static int setup(void **state)
{
	(void)state;
	health_reset();
	H.reloads = 0;
	snprintf(H.dir, sizeof(H.dir), "/tmp/geosteer-control.XXXXXX");
	assert_non_null(mkdtemp(H.dir));
	snprintf(H.path, sizeof(H.path), "%s/run/sub/ctl.sock", H.dir);
	return harness_start(&hooks);
}

static int teardown(void **state)
{
	(void)state;
	harness_stop();
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", H.dir);
	assert_int_equal(system(cmd), 0);
	health_reset();
	return 0;
}

/* ---- a blocking client ---- */

static int client_connect(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", H.path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

static void client_send(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		text += n;
		len -= (size_t)n;
	}
}

/* Reads one line (without its newline) into buf; false on EOF or timeout. */
static bool client_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			return false;
		char c;
		if (recv(fd, &c, 1, 0) != 1)
			return false;
		if (c == '\n') {
			buf[len] = '\0';
			return true;
		}
		buf[len++] = c;
	}
	return false;
}

static bool client_eof(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;
	if (poll(&p, 1, 5000) != 1)
		return false;
	/* Closed with our bytes still unread, a Unix socket reports a reset. */
	ssize_t n = recv(fd, &c, 1, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* One command on a fresh connection; the reply in a static buffer. */
static const char *ask(const char *cmd)
{
	static char reply[65536];
	int fd = client_connect();
	client_send(fd, cmd, strlen(cmd));
	client_send(fd, "\n", 1);
	bool got = client_line(fd, reply, sizeof(reply));
	close(fd);
	assert_true(got);
	return reply;
}

/* ---- tests ---- */

static void test_socket_file(void **state)
{
	(void)state;
	struct stat st;
	assert_int_equal(stat(H.path, &st), 0); /* parent folders were made */
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	/* A second control socket in the same process is refused. */
	char err[256];
	assert_int_equal(control_start(&H.loop, "/tmp/other.sock", &hooks, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "already running"));
}

static void test_status_before_publish(void **state)
{
	(void)state;
	const char *r = ask("status");
	/* No snapshot is published in this test: generation 0, no zones. */
	char uptime[32];
	assert_int_equal(sscanf(r, "{\"ok\":true,\"version\":\"9.9.9\",\"uptime_s\":%31[0-9],", uptime), 1);
	assert_non_null(strstr(r, ",\"config\":\"geosteer.yaml\",\"generation\":0,\"zones\":[]}"));
}

static void test_health(void **state)
{
	(void)state;
	assert_string_equal(ask("health"), "{\"ok\":true,\"datacenters\":[]}");
	int a = health_slot("us-east");
	int b = health_slot("eu-central");
	health_set_probed(b, false, "connect \"refused\"");
	(void)a;
	const char *r = ask("health");
	assert_non_null(strstr(r, "{\"ok\":true,\"datacenters\":[{\"name\":\"us-east\",\"up\":true,"
	                          "\"probed_up\":true,\"admin\":\"none\",\"since\":\"20"));
	assert_non_null(strstr(r,
	                       "\"reason\":\"\"},{\"name\":\"eu-central\",\"up\":false,\"probed_up\":false,"
	                       "\"admin\":\"none\",\"since\":\""));
	assert_non_null(strstr(r, "\"reason\":\"connect \\\"refused\\\"\"}]}"));
	/* since is ISO 8601 UTC: 2026-11-26T20:05:41Z */
	const char *since = strstr(r, "\"since\":\"") + 9;
	int y, mo, d, h, mi, s;
	char z;
	assert_int_equal(sscanf(since, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z), 7);
	assert_int_equal(z, 'Z');
}

static void test_admin_commands(void **state)
{
	(void)state;
	int s = health_slot("us-east");
	uint64_t bit = UINT64_C(1) << s;
	assert_string_equal(ask("drain us-east"),
	                    "{\"ok\":true,\"datacenter\":\"us-east\",\"admin\":\"drain\",\"up\":false}");
	assert_false(health_up_mask() & bit);
	assert_non_null(strstr(ask("health"), "\"admin\":\"drain\""));
	assert_string_equal(ask("undrain us-east"),
	                    "{\"ok\":true,\"datacenter\":\"us-east\",\"admin\":\"none\",\"up\":true}");
	assert_true(health_up_mask() & bit);
	health_set_probed(s, false, "timeout");
	assert_string_equal(ask("force-up us-east"),
	                    "{\"ok\":true,\"datacenter\":\"us-east\",\"admin\":\"force-up\",\"up\":true}");
	assert_true(health_up_mask() & bit);
	assert_string_equal(ask("drain nowhere"),
	                    "{\"ok\":false,\"error\":\"unknown datacenter 'nowhere'\"}");
	assert_string_equal(ask("drain"), "{\"ok\":false,\"error\":\"usage: drain DC\"}");
	assert_string_equal(ask("drain a b"), "{\"ok\":false,\"error\":\"usage: drain DC\"}");
}

static void test_reload(void **state)
{
	(void)state;
	assert_string_equal(ask("reload"), "{\"ok\":true,\"generation\":42}");
	assert_string_equal(ask("reload"),
	                    "{\"ok\":false,\"error\":\"geosteer.yaml:7: unknown key 'zonez'\"}");
}

static void test_explain(void **state)
{
	(void)state;
	assert_string_equal(ask("explain 192.0.2.1 www.shop.example AAAA"),
	                    "{\"ok\":true,\"explain\":\"client 192.0.2.1\\n\\\"www.shop.example\\\"\\tAAAA\\n"
	                    "\\ufffd end\"}");
	assert_string_equal(ask("explain 192.0.2.1 www.shop.example"),
	                    "{\"ok\":true,\"explain\":\"client 192.0.2.1\\n\\\"www.shop.example\\\"\\tA\\n"
	                    "\\ufffd end\"}");
	assert_string_equal(ask("explain bad www"),
	                    "{\"ok\":false,\"error\":\"'bad' is not an IP address\"}");
	assert_string_equal(ask("explain 192.0.2.1"),
	                    "{\"ok\":false,\"error\":\"usage: explain IP NAME [TYPE]\"}");
}

static void test_unknown_and_pipelined(void **state)
{
	(void)state;
	assert_string_equal(ask("stats?"), "{\"ok\":false,\"error\":\"unknown command 'stats?'\"}");
	assert_string_equal(ask("\"quote\\"), "{\"ok\":false,\"error\":\"unknown command '\\\"quote\\\\'\"}");
	health_slot("us-east");

	/* Several commands in one write, CRLF, blank lines: answered in order. */
	int fd = client_connect();
	const char *batch = "drain us-east\r\n\n   \nbogus\nundrain us-east\n";
	client_send(fd, batch, strlen(batch));
	char line[4096];
	assert_true(client_line(fd, line, sizeof(line)));
	assert_string_equal(line,
	                    "{\"ok\":true,\"datacenter\":\"us-east\",\"admin\":\"drain\",\"up\":false}");
	assert_true(client_line(fd, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":false,\"error\":\"unknown command 'bogus'\"}");
	assert_true(client_line(fd, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":true,\"datacenter\":\"us-east\",\"admin\":\"none\",\"up\":true}");
	/* A command split over two writes. */
	client_send(fd, "rel", 3);
	usleep(20000);
	client_send(fd, "oad\n", 4);
	assert_true(client_line(fd, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":true,\"generation\":42}");
	/* A last command without a newline, then end of input: still answered, then closed. */
	client_send(fd, "drain x", 7);
	shutdown(fd, SHUT_WR);
	assert_true(client_line(fd, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":false,\"error\":\"unknown datacenter 'x'\"}");
	assert_true(client_eof(fd));
	close(fd);
}

/* control_answer: the same replies without a socket (what the fuzzer drives). */
static void test_answer_without_socket(void **state)
{
	(void)state;
	H.reloads = 0; /* the hook fails every second reload */
	char *r = control_answer(&hooks, "reload\r", 7);
	assert_string_equal(r, "{\"ok\":true,\"generation\":42}");
	free(r);
	r = control_answer(&hooks, "drain\0x", 7);
	assert_string_equal(r, "{\"ok\":false,\"error\":\"NUL byte in command\"}");
	free(r);
	r = control_answer(NULL, "explain 192.0.2.1 www", 21);
	assert_string_equal(r, "{\"ok\":false,\"error\":\"explain not available\"}");
	free(r);
	assert_null(control_answer(&hooks, " \t\r", 3));
	assert_null(control_answer(&hooks, "", 0));
}

static void test_line_too_long(void **state)
{
	(void)state;
	int fd = client_connect();
	char big[CONTROL_LINE_MAX + 100];
	memset(big, 'a', sizeof(big));
	client_send(fd, big, sizeof(big));
	char line[256];
	assert_true(client_line(fd, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":false,\"error\":\"line too long (at most 4096 bytes)\"}");
	assert_true(client_eof(fd));
	close(fd);

	/* Exactly CONTROL_LINE_MAX bytes is still a line. */
	fd = client_connect();
	memset(big, ' ', CONTROL_LINE_MAX);
	memcpy(big + CONTROL_LINE_MAX - 6, "health", 6);
	big[CONTROL_LINE_MAX] = '\n';
	client_send(fd, big, CONTROL_LINE_MAX + 1);
	assert_true(client_line(fd, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":true,\"datacenters\":[]}");
	close(fd);

	/* A NUL byte inside a line is refused, the connection goes on. */
	fd = client_connect();
	client_send(fd, "health\0x\nhealth\n", 16);
	assert_true(client_line(fd, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":false,\"error\":\"NUL byte in command\"}");
	assert_true(client_line(fd, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":true,\"datacenters\":[]}");
	close(fd);
}

static void test_connection_limit(void **state)
{
	(void)state;
	int fds[CONTROL_MAX_CONNECTIONS];
	char line[256];
	for (int i = 0; i < CONTROL_MAX_CONNECTIONS; i++) {
		fds[i] = client_connect();
		client_send(fds[i], "reload\n", 7); /* proves it was accepted */
		assert_true(client_line(fds[i], line, sizeof(line)));
	}
	int extra = client_connect();
	assert_true(client_line(extra, line, sizeof(line)));
	assert_string_equal(line, "{\"ok\":false,\"error\":\"too many control connections\"}");
	assert_true(client_eof(extra));
	close(extra);
	/* Freeing one slot lets the next client in. */
	close(fds[0]);
	usleep(50000);
	assert_string_equal(ask("bogus"), "{\"ok\":false,\"error\":\"unknown command 'bogus'\"}");
	for (int i = 1; i < CONTROL_MAX_CONNECTIONS; i++)
		close(fds[i]);
}

static void test_unread_replies_are_bounded(void **state)
{
	(void)state;
	/* A client that floods commands and never reads: the server must stop
	 * answering (not buffer without limit), then answer everything once
	 * the client reads. */
	for (int i = 0; i < HEALTH_MAX_SLOTS; i++) {
		char name[64];
		snprintf(name, sizeof(name), "datacenter-with-a-long-name-%02d", i);
		health_set_probed(health_slot(name), false,
		                  "a long reason so that each health reply is several kilobytes long ......");
	}
	int fd = client_connect();
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	size_t sent = 0;
	/* Bounded: stop once the socket stays full (the server stopped reading). */
	for (int i = 0; i < 20000 && poll(&p, 1, 200) == 1; i++) {
		ssize_t n = send(fd, "health\n", 7, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			continue;
		assert_int_equal(n, 7);
		sent++;
	}
	assert_true(sent > 50);
	assert_true(sent < 20000); /* the server pushed back */
	/* Read everything back in big chunks; every line must be a full reply. */
	static char chunk[65536];
	size_t got = 0;
	bool at_line_start = true;
	while (got < sent) {
		struct pollfd in = {.fd = fd, .events = POLLIN};
		if (poll(&in, 1, 5000) != 1)
			break;
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (at_line_start)
				assert_int_equal(chunk[i], '{');
			at_line_start = chunk[i] == '\n';
			got += at_line_start;
		}
	}
	assert_int_equal(got, sent);
	close(fd);
}

/* Runs without the harness's thread: start and stop on a loop of its own. */
static void test_restart_and_stale(void **state)
{
	(void)state;
	char err[256];
	uv_loop_t loop;
	struct stat st;
	assert_int_equal(uv_loop_init(&loop), 0);

	/* A live socket is never taken over. */
	int live = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", H.path);
	assert_int_equal(bind(live, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(live, 1), 0);
	assert_int_equal(control_start(&loop, H.path, &hooks, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "another process is serving this socket"));

	/* Closed without unlink: a stale socket, removed and replaced. */
	close(live);
	assert_int_equal(control_start(&loop, H.path, &hooks, err, sizeof(err)), 0);
	assert_int_equal(stat(H.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	control_stop();
	assert_int_equal(stat(H.path, &st), -1); /* stop removes the file */
	uv_run(&loop, UV_RUN_DEFAULT);           /* completes the closes */

	/* Start again after a stop, on the same loop. */
	assert_int_equal(control_start(&loop, H.path, &hooks, err, sizeof(err)), 0);
	control_stop();
	uv_run(&loop, UV_RUN_DEFAULT);

	/* A regular file is never removed. */
	FILE *f = fopen(H.path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(control_start(&loop, H.path, &hooks, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exists and is not a socket"));
	assert_int_equal(stat(H.path, &st), 0);

	/* A path too long for sun_path is reported, not truncated. */
	char longpath[200];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(control_start(&loop, longpath, &hooks, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "path too long"));

	/* A parent that is a file, not a folder. */
	char below[160];
	snprintf(below, sizeof(below), "%s/ctl.sock", H.path);
	assert_int_equal(control_start(&loop, below, &hooks, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a folder"));

	control_stop(); /* not started: harmless */
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* server.user's hand-over: the socket file only, never what has taken its
 * place (as root, the account may write to the socket's folder and put a
 * symlink to a root-owned file there). */
static void test_chown(void **state)
{
	(void)state;
	char err[256], victim[128], link[128];
	uv_loop_t loop;
	struct stat st, before;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(control_chown(getuid(), getgid(), err, sizeof(err)), -1); /* not started */

	mode_t mask = umask(0077); /* the socket is 0660 whatever the umask */
	assert_int_equal(control_start(&loop, H.path, &hooks, err, sizeof(err)), 0);
	umask(mask);
	assert_int_equal(lstat(H.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	/* As root, to ids without accounts; otherwise to our own (allowed). */
	uid_t uid = geteuid() == 0 ? 4000000 : getuid();
	gid_t gid = geteuid() == 0 ? 4000001 : getgid();
	assert_int_equal(control_chown(uid, gid, err, sizeof(err)), 0);
	assert_int_equal(lstat(H.path, &st), 0);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);

	/* A symlink to another file renamed over the socket. */
	snprintf(victim, sizeof(victim), "%s/victim", H.dir);
	snprintf(link, sizeof(link), "%s/link", H.dir);
	FILE *f = fopen(victim, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(stat(victim, &before), 0);
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(rename(link, H.path), 0);
	assert_int_equal(control_chown(uid, gid, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no longer the socket geosteerd made"));
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_uid, before.st_uid);
	assert_int_equal(st.st_gid, before.st_gid);
	assert_int_equal(st.st_mode, before.st_mode);

	control_stop();
	assert_int_equal(lstat(H.path, &st), 0); /* not ours: left in place */
	assert_true(S_ISLNK(st.st_mode));
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(H.dir, sizeof(H.dir), "/tmp/geosteer-control.XXXXXX");
	assert_non_null(mkdtemp(H.dir));
	snprintf(H.path, sizeof(H.path), "%s/ctl.sock", H.dir);
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", H.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_json_string(void **state)
{
	(void)state;
	char buf[64];
	assert_int_equal(control_json_string(buf, sizeof(buf), "a\"b\\c", 5), 9);
	assert_string_equal(buf, "\"a\\\"b\\\\c\"");
	assert_int_equal(control_json_string(buf, sizeof(buf), "\x01\x1f\x7f\n", 4), 22);
	assert_string_equal(buf, "\"\\u0001\\u001f\\u007f\\n\"");
	/* Valid UTF-8 passes, invalid bytes become U+FFFD. */
	control_json_string(buf, sizeof(buf), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	assert_string_equal(buf, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	control_json_string(buf, sizeof(buf), "\xc0\xaf|\xed\xa0\x80|\xe2\x82", 9);
	assert_string_equal(buf, "\"\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\"");
	/* An embedded NUL is data, escaped, not an end. */
	control_json_string(buf, sizeof(buf), "a\0b", 3);
	assert_string_equal(buf, "\"a\\u0000b\"");
	/* Cut like snprintf: the full length is returned, the output fits. */
	char small[5];
	assert_int_equal(control_json_string(small, sizeof(small), "abcdef", 6), 8);
	assert_string_equal(small, "\"abc");
	assert_int_equal(control_json_string(NULL, 0, "x", 1), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_before_publish, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_health, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admin_commands, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_explain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_and_pipelined, setup, teardown),
	    cmocka_unit_test(test_answer_without_socket),
	    cmocka_unit_test_setup_teardown(test_line_too_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connection_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unread_replies_are_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_and_stale, setup_dir, teardown_dir),
	    cmocka_unit_test_setup_teardown(test_chown, setup_dir, teardown_dir),
	    cmocka_unit_test(test_json_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
