/*
 * server — sockets, threads and signals around query_respond().
 *
 * UDP is the hot path.  Every worker thread owns one socket per listen
 * address, all bound with SO_REUSEPORT so the kernel spreads packets over
 * the workers without any shared queue or lock.  A worker sleeps in poll()
 * (offline for snapshot reclamation) — or, with a single socket, in a
 * blocking recvmmsg() (see udp_worker_single) — then drains each readable socket in
 * batches of UDP_BATCH with recvmmsg(), answers every packet (the reply
 * written over its request) from the
 * snapshot it took at the start of the batch, reports a quiescent point and
 * sends the replies with one sendmmsg().  All buffers are allocated once
 * when the thread starts; answering allocates nothing.  Each worker counts
 * what it answered into its own stats block (stats.h; the loop thread has
 * one for TCP), so counting shares no cache line and takes no lock.  UDP_BATCH is 64:
 * against 32 it gave 2-13% more closed-loop throughput on one core (three
 * interleaved rounds, 128 queries in flight) at the same CPU per query, and
 * a batch is only as full as the queue, so a lone query is not delayed
 * (recvmmsg returns what is there).  A socket gets at most UDP_ROUNDS
 * batches before the worker looks at its other sockets, so one flooded
 * address cannot starve another.  Sockets bound to a wildcard address ask
 * for the packet's destination (IP_PKTINFO) and reply from it, so a
 * multi-homed host answers from the address that was asked.
 *
 * Stopping: the main thread sets a flag and makes an eventfd readable; it
 * is in every worker's poll set and never drained, so all workers wake at
 * once.  The poll timeout (UDP_POLL_MS) is only a safety net.
 *
 * TCP (RFC 7766) and signals run on one libuv loop in the main thread.
 * Each connection owns an input buffer that holds at most one maximal frame
 * (2 + 65535 bytes) and an output buffer of the same size: complete frames
 * are answered in order, a reply is written with uv_try_write() and only
 * when the socket is full is it queued with uv_write(), reading paused
 * until it completes.  Memory per connection is therefore fixed, and
 * tcp_max_connections bounds the total.  The main thread is also the only
 * publisher of snapshots (SIGHUP reload), so its TCP callbacks, which
 * never hold a snapshot across a return to the loop, need no reader slot.
 *
 * SIGTERM, SIGINT and SIGHUP are blocked in every thread from before the
 * first one starts and read from a signalfd on that loop, not caught with
 * libuv's uv_signal: closing the last uv_signal_t of a signal puts back its
 * default action, so one more SIGTERM while the daemon stopped (timeout(1)
 * and impatient scripts send them) killed it with 143 and no "stopped",
 * and setting SIG_IGN after the close still left that window.  Blocked, a
 * signal that comes once the stop began stays pending and goes with the
 * process.
 *
 * The loop also watches the files the snapshot's policies were built from
 * (GeoIP databases, latency tables: policy_set_watch_files()) with
 * uv_fs_poll, which compares stat() results every WATCH_INTERVAL_MS and so
 * sees a file replaced by rename (new inode) as well as one rewritten in
 * place.  A change starts a settle timer; further changes restart it, and
 * only when the files have been quiet for WATCH_SETTLE_MS does the daemon
 * reload, exactly as for SIGHUP.  One change therefore means one reload,
 * and a file still being copied is not read half-written.  A failed reload
 * keeps the old snapshot and its watches (the next change tries again); a
 * successful one re-arms the watch list from the new snapshot, keeping the
 * handles of paths still in it so that no change slips between two polls.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "health.h"
#include "control.h"
#include "explain.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "privileges.h"
#include "probe.h"
#include "query.h"
#include "ratelimit.h"
#include "snapshot.h"
#include "stats.h"
#include "version.h"
#include "wire.h"
#include "zone.h"

#define UDP_BATCH 64
#define UDP_BUF 4096 /* the largest EDNS payload we accept or send */
#define UDP_ROUNDS 4
#define UDP_POLL_MS 200
#define TCP_FRAME_MAX (2 + WIRE_MAX_MESSAGE)
/* A query that has begun to arrive must be complete within this long
 * (never longer than the idle timeout).  Only a complete query or a reply
 * sent restarts the idle timer: if every byte did, a client sending one
 * byte per idle period would hold its connection for ever, and a few
 * hundred such clients fill tcp_max_connections (slow loris; knot's
 * tcp-io-timeout is the same guard). */
#define TCP_FRAME_TIMEOUT_MS 2000
#define TCP_BACKLOG 128
#define TCP_LIMIT_WARN_MS 10000

struct server;

struct udp_worker {
	pthread_t thread;
	bool started;
	struct server *server;
	const int *fds;      /* one per listen address */
	const bool *pktinfo; /* per fd: bound to a wildcard address */
	size_t fd_count;
};

/* The buffers of one worker, allocated at thread start. */
union udp_control {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

struct udp_batch {
	struct mmsghdr in[UDP_BATCH];
	struct mmsghdr out[UDP_BATCH];
	struct iovec in_iov[UDP_BATCH];
	struct iovec out_iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	union udp_control in_ctl[UDP_BATCH];
	union udp_control out_ctl[UDP_BATCH];
	/* A reply is written over its request (query_respond allows it): one
	 * buffer per packet keeps a batch's footprint to half the pages and
	 * cache lines, which after the kernel's packet path are cold. */
	uint8_t pkt[UDP_BATCH][UDP_BUF];
	/* Receive headers [0, in_dirty) need setting up again (the kernel
	 * wrote their lengths), for a socket with or without in_pktinfo. */
	unsigned in_dirty;
	bool in_pktinfo;
	/* This worker's response rate limiting counts (server.rate_limit);
	 * NULL when it could not be allocated: nothing is limited then. */
	struct ratelimit_table *limits;
};

struct tcp_listener {
	uv_tcp_t handle;
	struct server *server;
	const struct config_listen *listen;
};

struct tcp_conn {
	uv_tcp_t handle;
	uv_timer_t idle;
	uv_write_t write_req;
	struct server *server;
	struct tcp_conn *prev, *next;
	struct sockaddr_storage peer;
	int open_handles; /* freed when both handles have closed */
	bool closing, writing, reading, eof;
	uint64_t partial_since; /* uv_now() when the pending partial query began; 0: none */
	size_t in_start, in_len; /* pending bytes: in[in_start .. in_start + in_len) */
	uint8_t in[TCP_FRAME_MAX];
	uint8_t out[TCP_FRAME_MAX];
};

struct server {
	const struct config *config;
	uv_loop_t loop;
	atomic_bool stopping;
	int wake_fd;

	int *udp_fds; /* [worker * listen_count + listen] */
	bool *udp_pktinfo;
	size_t udp_fd_count;
	struct udp_worker *workers;
	unsigned worker_count;

	struct tcp_listener *listeners;
	size_t listener_count;
	struct tcp_conn *conns;
	unsigned tcp_open;
	unsigned tcp_max;
	unsigned tcp_idle_ms;
	uint64_t tcp_limit_warned_at;
	unsigned long tcp_limit_rejected;

	uv_poll_t sig_poll; /* on sig_fd, a signalfd of SIGTERM, SIGINT, SIGHUP */
	int sig_fd;
	bool signals_started;

	struct control_hooks control;
	char control_path[PATH_MAX];

	/* GeoIP databases and latency tables the current snapshot was built
	 * from: a change reloads (see "watching the data files"). */
	struct server_watch *watches;
	uv_timer_t watch_settle;
	bool watch_started;

	/* Counters of the loop thread (TCP); each UDP worker has its own. */
	struct stats_block *loop_stats;
	char config_sha256[65]; /* of the config last loaded, for `status` */
};

/* ---- UDP ---- */

static bool udp_is_wildcard(const struct config_listen *l)
{
	if (l->addr.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&l->addr)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&l->addr)->sin6_addr);
}

static int udp_socket_open(const struct config_listen *l, bool pktinfo)
{
	int fd = socket(l->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int on = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0)
		goto fail;
	if (l->addr.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0)
		goto fail;
	if (pktinfo) {
		int r = l->addr.ss_family == AF_INET
		            ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on))
		            : setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
		if (r < 0)
			goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addr_len) < 0)
		goto fail;
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Turns the destination reported with a request into the source of its
 * reply.  Returns the control length to send, 0 when there is none. */
static size_t udp_reply_control(const struct msghdr *in, union udp_control *out)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR((struct msghdr *)in, c)) {
		memset(out, 0, sizeof(*out));
		struct cmsghdr *o = &out->align;
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0; /* let routing pick the interface */
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			memcpy(CMSG_DATA(o), CMSG_DATA(c), sizeof(struct in6_pktinfo));
			return CMSG_SPACE(sizeof(struct in6_pktinfo));
		}
	}
	return 0;
}

/* Returns how many replies were not sent, for the counters. */
static unsigned udp_send_all(int fd, struct mmsghdr *msgs, unsigned count)
{
	unsigned done = 0, lost = 0;
	while (done < count) {
		int r = sendmmsg(fd, msgs + done, count - done, 0);
		if (r > 0)
			done += (unsigned)r;
		else if (r < 0 && errno == EINTR)
			continue;
		else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return lost + count - done; /* send buffer full: drop the rest, as a router would */
		else {
			done++; /* this destination failed; the others may not */
			lost++;
		}
	}
	return lost;
}

/* Receives up to UDP_BATCH datagrams into b (flags: MSG_DONTWAIT to poll,
 * MSG_WAITFORONE to block for the first one only). */
static int udp_receive(struct udp_batch *b, int fd, bool pktinfo, int flags)
{
	/* Only the headers the last call filled are set up again: a batch is
	 * mostly a packet or two below saturation, and rewriting all 64
	 * headers each time was ~4.6 KB of stores per wake-up. */
	if (pktinfo != b->in_pktinfo) {
		b->in_dirty = UDP_BATCH;
		b->in_pktinfo = pktinfo;
	}
	for (unsigned i = 0; i < b->in_dirty; i++) {
		struct msghdr *h = &b->in[i].msg_hdr;
		b->in_iov[i] = (struct iovec){.iov_base = b->pkt[i], .iov_len = UDP_BUF};
		*h = (struct msghdr){
		    .msg_name = &b->from[i],
		    .msg_namelen = sizeof(b->from[i]),
		    .msg_iov = &b->in_iov[i],
		    .msg_iovlen = 1,
		    .msg_control = pktinfo ? b->in_ctl[i].buf : NULL,
		    .msg_controllen = pktinfo ? sizeof(b->in_ctl[i].buf) : 0,
		};
	}
	int n = recvmmsg(fd, b->in, UDP_BATCH, flags, NULL);
	/* A failed call writes no header; 1 rather than 0 only so that a
	 * kernel that did touch the first one cannot leave it short. */
	b->in_dirty = n > 0 ? (unsigned)n : 1;
	return n;
}

/* Answers the n datagrams in b and sends the replies with one sendmmsg(). */
static void udp_answer_batch(struct udp_batch *b, int n, int fd, bool pktinfo, int reader,
                             struct stats_block *stats)
{
	const struct snapshot *snap = snapshot_current();
	unsigned out_count = 0;
	/* Rate limiting counts replies per second: one clock read a batch. */
	uint32_t second = 0;
	if (snap && snap->ratelimit.responses) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		second = (uint32_t)ts.tv_sec;
	}
	for (int i = 0; snap && i < n; i++) {
		const struct msghdr *h = &b->in[i].msg_hdr;
		if (h->msg_flags & MSG_TRUNC) {
			stats_count_dropped(stats, 1);
			continue; /* larger than any DNS query we answer */
		}
		struct query_client client = {.addr = (const struct sockaddr *)&b->from[i], .transport = QUERY_UDP};
		struct query_outcome outcome;
		size_t len = query_respond_outcome(snap->zones, snap->policies, &snap->settings, &client, b->pkt[i],
		                                   b->in[i].msg_len, b->pkt[i], UDP_BUF, &outcome);
		stats_count(stats, QUERY_UDP, &outcome);
		if (len == 0 || len > UDP_BUF)
			continue;
		if (snap->ratelimit.responses) {
			uint64_t class = ratelimit_class(&snap->ratelimit, client.addr, outcome.source, outcome.rcode);
			enum ratelimit_verdict v = ratelimit_check(b->limits, &snap->ratelimit, class, second);
			stats_count_rate_limited(stats, v);
			if (v == RATELIMIT_DROP)
				continue;
			if (v == RATELIMIT_SLIP)
				len = ratelimit_truncate(b->pkt[i], len);
		}
		b->out_iov[out_count] = (struct iovec){.iov_base = b->pkt[i], .iov_len = len};
		size_t ctl_len = pktinfo ? udp_reply_control(h, &b->out_ctl[out_count]) : 0;
		b->out[out_count].msg_hdr = (struct msghdr){
		    .msg_name = &b->from[i],
		    .msg_namelen = h->msg_namelen,
		    .msg_iov = &b->out_iov[out_count],
		    .msg_iovlen = 1,
		    .msg_control = ctl_len ? b->out_ctl[out_count].buf : NULL,
		    .msg_controllen = ctl_len,
		};
		out_count++;
	}
	/* The replies are copies; nothing below touches the snapshot. */
	snapshot_reader_quiescent(reader);
	stats_count_dropped(stats, udp_send_all(fd, b->out, out_count));
}

/* Answers up to UDP_ROUNDS batches waiting on one socket. */
static void udp_serve_socket(struct udp_batch *b, int fd, bool pktinfo, int reader, struct stats_block *stats)
{
	for (int round = 0; round < UDP_ROUNDS; round++) {
		int n = udp_receive(b, fd, pktinfo, MSG_DONTWAIT);
		if (n <= 0)
			return;
		udp_answer_batch(b, n, fd, pktinfo, reader, stats);
		if (n < UDP_BATCH)
			return; /* drained */
	}
}

/*
 * A worker with a single socket (one listen address, the common case)
 * sleeps in recvmmsg() itself instead of poll(): two system calls per batch
 * instead of three, which is most of a DNS server's cost (the benchmark
 * measured ~90% of the time in the kernel).  The socket is made blocking
 * with a receive timeout of UDP_POLL_MS so the worker still notices a stop.
 */
static void udp_worker_single(struct udp_worker *w, struct udp_batch *b, int reader, struct stats_block *stats)
{
	int fd = w->fds[0];
	struct timeval tv = {.tv_sec = UDP_POLL_MS / 1000, .tv_usec = (UDP_POLL_MS % 1000) * 1000};
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		log_warn("udp worker: cannot block in recvmmsg (%s); polling instead", strerror(errno));
		return;
	}
	while (!atomic_load(&w->server->stopping)) {
		snapshot_reader_offline(reader);
		int n = udp_receive(b, fd, w->pktinfo[0], MSG_WAITFORONE);
		snapshot_reader_online(reader);
		if (n > 0)
			udp_answer_batch(b, n, fd, w->pktinfo[0], reader, stats);
	}
}

static void *udp_worker_main(void *arg)
{
	struct udp_worker *w = arg;
	struct server *s = w->server;
	int reader = snapshot_reader_register();
	struct stats_block *stats = stats_register(); /* NULL: this worker is not counted */
	struct udp_batch *b = malloc(sizeof(*b));
	if (b) {
		b->in_dirty = UDP_BATCH;
		b->in_pktinfo = false;
		b->limits = ratelimit_table_new(); /* untouched pages cost nothing while limiting is off */
	}
	struct pollfd *pfds = calloc(w->fd_count + 1, sizeof(*pfds));
	if (reader < 0 || !b || !pfds) {
		log_error("udp worker: cannot start (%s)", reader < 0 ? "too many readers" : "out of memory");
		goto out;
	}
	for (size_t i = 0; i < w->fd_count; i++)
		pfds[i] = (struct pollfd){.fd = w->fds[i], .events = POLLIN};
	pfds[w->fd_count] = (struct pollfd){.fd = s->wake_fd, .events = POLLIN};

	if (w->fd_count == 1)
		udp_worker_single(w, b, reader, stats); /* returns at stop, or to poll if it cannot block */
	while (!atomic_load(&s->stopping)) {
		snapshot_reader_offline(reader);
		int r = poll(pfds, w->fd_count + 1, UDP_POLL_MS);
		snapshot_reader_online(reader);
		if (r <= 0)
			continue;
		for (size_t i = 0; i < w->fd_count; i++)
			if (pfds[i].revents & POLLIN)
				udp_serve_socket(b, w->fds[i], w->pktinfo[i], reader, stats);
	}
out:
	snapshot_reader_unregister(reader);
	free(pfds);
	if (b)
		ratelimit_table_free(b->limits);
	free(b);
	return NULL;
}

/* ---- TCP ---- */

static void tcp_conn_process(struct tcp_conn *c);

static void tcp_conn_closed(uv_handle_t *h)
{
	struct tcp_conn *c = h->data;
	if (--c->open_handles == 0)
		free(c);
}

static void tcp_conn_close(struct tcp_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	struct server *s = c->server;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->tcp_open--;
	uv_timer_stop(&c->idle);
	uv_close((uv_handle_t *)&c->idle, tcp_conn_closed);
	uv_close((uv_handle_t *)&c->handle, tcp_conn_closed);
}

static void tcp_idle_cb(uv_timer_t *t)
{
	tcp_conn_close(t->data);
}

static void tcp_conn_touch(struct tcp_conn *c)
{
	uv_timer_start(&c->idle, tcp_idle_cb, c->server->tcp_idle_ms, 0);
}

static void tcp_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct tcp_conn *c = h->data;
	if (c->in_start > 0) {
		memmove(c->in, c->in + c->in_start, c->in_len);
		c->in_start = 0;
	}
	/* Never full here: a complete frame is answered before reading on. */
	*buf = uv_buf_init((char *)c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void tcp_write_cb(uv_write_t *req, int status)
{
	struct tcp_conn *c = req->data;
	c->writing = false;
	if (c->closing)
		return;
	if (status < 0) {
		tcp_conn_close(c);
		return;
	}
	tcp_conn_touch(c);
	tcp_conn_process(c);
}

static void tcp_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	struct tcp_conn *c = stream->data;
	if (c->closing)
		return;
	if (nread > 0) {
		c->in_len += (size_t)nread; /* the timers are set by tcp_conn_process */
	} else if (nread == UV_EOF) {
		c->eof = true;
		uv_read_stop(stream);
		c->reading = false;
	} else if (nread < 0) {
		tcp_conn_close(c);
		return;
	}
	tcp_conn_process(c);
}

/* Sends out[0 .. len); pauses reading when the socket cannot take it all. */
static void tcp_conn_send(struct tcp_conn *c, size_t len)
{
	uv_stream_t *stream = (uv_stream_t *)&c->handle;
	uv_buf_t buf = uv_buf_init((char *)c->out, (unsigned)len);
	int r = uv_try_write(stream, &buf, 1);
	if (r == (int)len)
		return;
	if (r < 0 && r != UV_EAGAIN) {
		tcp_conn_close(c);
		return;
	}
	size_t sent = r > 0 ? (size_t)r : 0;
	buf = uv_buf_init((char *)c->out + sent, (unsigned)(len - sent));
	c->write_req.data = c;
	if (uv_write(&c->write_req, stream, &buf, 1, tcp_write_cb) < 0) {
		tcp_conn_close(c);
		return;
	}
	c->writing = true;
	if (c->reading) {
		uv_read_stop(stream);
		c->reading = false;
	}
}

/* Answers every complete frame, in order, then decides what comes next. */
static void tcp_conn_process(struct tcp_conn *c)
{
	while (!c->writing && !c->closing && c->in_len >= 2) {
		const uint8_t *frame = c->in + c->in_start;
		size_t qlen = wire_get_u16(frame);
		if (qlen == 0) {
			tcp_conn_close(c); /* not a DNS message: the stream is out of sync */
			return;
		}
		if (c->in_len < 2 + qlen)
			break;
		const struct snapshot *snap = snapshot_current();
		struct query_client client = {.addr = (const struct sockaddr *)&c->peer,
		                              .transport = QUERY_TCP};
		struct query_outcome outcome;
		size_t n = 0;
		if (snap) {
			n = query_respond_outcome(snap->zones, snap->policies, &snap->settings, &client,
			                          frame + 2, qlen, c->out + 2, WIRE_MAX_MESSAGE, &outcome);
			stats_count(c->server->loop_stats, QUERY_TCP, &outcome);
		}
		c->in_start += 2 + qlen;
		c->in_len -= 2 + qlen;
		if (c->in_len == 0)
			c->in_start = 0;
		c->partial_since = 0;
		tcp_conn_touch(c); /* a complete query: the client is active */
		if (n == 0 || n > WIRE_MAX_MESSAGE)
			continue; /* no reply for this one */
		wire_put_u16(c->out, (uint16_t)n);
		tcp_conn_send(c, n + 2);
	}
	if (c->closing || c->writing)
		return;
	if (c->eof) {
		tcp_conn_close(c); /* a partial frame after EOF can never complete */
		return;
	}
	if (c->in_len > 0) {
		/* Part of a query is here: it has TCP_FRAME_TIMEOUT_MS from its
		 * first byte, whatever trickles in after it. */
		uint64_t now = uv_now(&c->server->loop);
		if (c->partial_since == 0)
			c->partial_since = now;
		uint64_t limit = c->server->tcp_idle_ms < TCP_FRAME_TIMEOUT_MS ? c->server->tcp_idle_ms : TCP_FRAME_TIMEOUT_MS;
		uint64_t left = c->partial_since + limit > now ? c->partial_since + limit - now : 0;
		uv_timer_start(&c->idle, tcp_idle_cb, left, 0);
	}
	if (!c->reading) {
		if (uv_read_start((uv_stream_t *)&c->handle, tcp_alloc_cb, tcp_read_cb) < 0) {
			tcp_conn_close(c);
			return;
		}
		c->reading = true;
	}
}

static void tcp_free_handle(uv_handle_t *h)
{
	free(h);
}

/* Over the connection limit: the connection is accepted (libuv would stop
 * accepting altogether otherwise) and closed at once. */
static void tcp_reject(struct server *s, uv_stream_t *listener)
{
	uv_tcp_t *t = malloc(sizeof(*t));
	if (!t || uv_tcp_init(&s->loop, t) < 0) {
		free(t);
		return;
	}
	uv_accept(listener, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, tcp_free_handle);
	s->tcp_limit_rejected++;
	uint64_t now = uv_now(&s->loop);
	if (!s->tcp_limit_warned_at || now - s->tcp_limit_warned_at >= TCP_LIMIT_WARN_MS) {
		log_warn("tcp: %u connections open (tcp_max_connections); closed %lu new ones", s->tcp_open,
		         s->tcp_limit_rejected);
		s->tcp_limit_warned_at = now;
		s->tcp_limit_rejected = 0;
	}
}

static void tcp_on_connection(uv_stream_t *listener, int status)
{
	struct tcp_listener *l = listener->data;
	struct server *s = l->server;
	if (status < 0) {
		log_warn("tcp %s: accept failed: %s", l->listen->text, uv_strerror(status));
		return;
	}
	struct tcp_conn *c = s->tcp_open < s->tcp_max ? malloc(sizeof(*c)) : NULL;
	if (!c) {
		tcp_reject(s, listener);
		return;
	}
	memset(c, 0, offsetof(struct tcp_conn, in)); /* the buffers need no clearing */
	c->server = s;
	uv_tcp_init(&s->loop, &c->handle);
	uv_timer_init(&s->loop, &c->idle);
	c->handle.data = c;
	c->idle.data = c;
	c->open_handles = 2;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->tcp_open++;

	if (uv_accept(listener, (uv_stream_t *)&c->handle) < 0) {
		tcp_conn_close(c);
		return;
	}
	int peer_len = sizeof(c->peer);
	uv_tcp_getpeername(&c->handle, (struct sockaddr *)&c->peer, &peer_len);
	uv_tcp_nodelay(&c->handle, 1);
	tcp_conn_touch(c);
	tcp_conn_process(c); /* starts reading */
}

static int tcp_listen_on(struct server *s, struct tcp_listener *l)
{
	int r = uv_tcp_init_ex(&s->loop, &l->handle, l->listen->addr.ss_family);
	if (r < 0)
		return r;
	l->handle.data = l;
	unsigned flags = l->listen->addr.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
	r = uv_tcp_bind(&l->handle, (const struct sockaddr *)&l->listen->addr, flags);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&l->handle, TCP_BACKLOG, tcp_on_connection);
	return r;
}

/* ---- watching the data files ---- */

/* Polling, not inotify: stat() once a second per file costs nothing, and it
 * follows a path through renames and through the file not existing for a
 * while, which is how databases get replaced (geoipupdate, mkgeodb). */
#define WATCH_INTERVAL_MS 1000
/* Longer than one poll interval, so a file that changes over two
 * consecutive polls (a slow copy) still gives one reload. */
#define WATCH_SETTLE_MS 1500
#define WATCH_MAX_FILES 64

struct server_watch {
	uv_fs_poll_t handle;
	struct server *server;
	struct server_watch *next;
	bool wanted; /* still named by the current snapshot (while re-arming) */
	char path[];
};

static int server_reload(struct server *s, uint64_t *generation, char *err, size_t errlen);

static void server_watch_free(uv_handle_t *h)
{
	free(h->data);
}

static void server_watch_settled(uv_timer_t *t)
{
	struct server *s = t->data;
	uint64_t generation;
	char err[1024];
	server_reload(s, &generation, err, sizeof(err)); /* logs either way; re-arms on success */
}

static void server_watch_changed(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr)
{
	(void)curr;
	struct server_watch *w = h->data;
	struct server *s = w->server;
	/* Missing since the watch started: nothing we loaded has changed. */
	if (status < 0 && prev->st_ino == 0 && prev->st_mtim.tv_sec == 0 && prev->st_mtim.tv_nsec == 0)
		return;
	if (status < 0)
		log_info("watch: %s is gone (%s); reloading once it has settled", w->path,
		         uv_strerror(status));
	else
		log_info("watch: %s changed; reloading once it has settled", w->path);
	uv_timer_start(&s->watch_settle, server_watch_settled, WATCH_SETTLE_MS, 0);
}

/* Makes the watch list the current snapshot's files: keeps the handles of
 * paths still named, starts new ones, closes the rest. */
static void server_watch_arm(struct server *s)
{
	if (!s->watch_started)
		return;
	const struct snapshot *snap = snapshot_current();
	const char *paths[WATCH_MAX_FILES];
	size_t n = 0;
	if (snap && snap->policies)
		n = policy_set_watch_files(snap->policies, paths, WATCH_MAX_FILES);
	if (n > WATCH_MAX_FILES) {
		log_warn("watch: %zu data files; only the first %d are watched", n, WATCH_MAX_FILES);
		n = WATCH_MAX_FILES;
	}
	for (struct server_watch *w = s->watches; w; w = w->next)
		w->wanted = false;
	for (size_t i = 0; i < n; i++) {
		struct server_watch *w = s->watches;
		while (w && strcmp(w->path, paths[i]) != 0)
			w = w->next;
		if (w) {
			w->wanted = true;
			continue;
		}
		size_t len = strlen(paths[i]);
		w = malloc(sizeof(*w) + len + 1);
		if (!w) {
			log_warn("watch: %s: out of memory; changes need a reload", paths[i]);
			continue;
		}
		memcpy(w->path, paths[i], len + 1);
		w->server = s;
		w->wanted = true;
		uv_fs_poll_init(&s->loop, &w->handle);
		w->handle.data = w;
		int r = uv_fs_poll_start(&w->handle, server_watch_changed, w->path, WATCH_INTERVAL_MS);
		if (r < 0) {
			log_warn("watch: %s: %s; changes need a reload", w->path, uv_strerror(r));
			uv_close((uv_handle_t *)&w->handle, server_watch_free);
			continue;
		}
		w->next = s->watches;
		s->watches = w;
		log_debug("watch: %s", w->path);
	}
	for (struct server_watch **p = &s->watches; *p;) {
		struct server_watch *w = *p;
		if (w->wanted) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		log_debug("watch: no longer %s", w->path);
		uv_close((uv_handle_t *)&w->handle, server_watch_free);
	}
}

static void server_watch_start(struct server *s)
{
	uv_timer_init(&s->loop, &s->watch_settle);
	s->watch_settle.data = s;
	s->watch_started = true;
	server_watch_arm(s);
}

/* Idempotent, like server_stop. */
static void server_watch_stop(struct server *s)
{
	if (!s->watch_started)
		return;
	s->watch_started = false;
	uv_timer_stop(&s->watch_settle);
	uv_close((uv_handle_t *)&s->watch_settle, NULL);
	while (s->watches) {
		struct server_watch *w = s->watches;
		s->watches = w->next;
		uv_close((uv_handle_t *)&w->handle, server_watch_free);
	}
}

/* ---- control: signals, stop, reload ---- */

static void server_close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stopping, true);
	uint64_t one = 1;
	if (s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the udp workers: %s",
		         strerror(errno)); /* they notice within UDP_POLL_MS */
	for (size_t i = 0; i < s->listener_count; i++)
		server_close_handle((uv_handle_t *)&s->listeners[i].handle);
	while (s->conns)
		tcp_conn_close(s->conns);
	control_stop();
	metrics_stop();
	server_watch_stop(s);
	probe_stop();
	if (s->signals_started) /* the signals stay blocked: later ones stay pending, harmless */
		server_close_handle((uv_handle_t *)&s->sig_poll);
}

static bool server_same_addresses(const struct config_listen *a, size_t na, const struct config_listen *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].addr_len != b[i].addr_len || memcmp(&a[i].addr, &b[i].addr, a[i].addr_len))
			return false;
	return true;
}

/* The settings that differ between what runs (a) and a reloaded config
 * (b) and that only a restart applies, as "server.listen, server.metrics"
 * (empty when none).  Like knotd and nsd, a reload swaps data, not
 * sockets: the workers own their sockets for the life of the process, and
 * closing one to rebind would drop the queries queued on it. */
static void server_restart_settings(const struct config *a, const struct config *b, char *out, size_t outlen)
{
	const char *names[5];
	size_t n = 0;
	if (!server_same_addresses(a->listen, a->listen_count, b->listen, b->listen_count))
		names[n++] = "server.listen";
	if (a->workers != b->workers)
		names[n++] = "server.workers";
	if (!server_same_addresses(a->metrics, a->metrics_count, b->metrics, b->metrics_count))
		names[n++] = "server.metrics";
	if ((a->control == NULL) != (b->control == NULL) || (a->control && strcmp(a->control, b->control)))
		names[n++] = "server.control";
	if ((a->user == NULL) != (b->user == NULL) || (a->user && strcmp(a->user, b->user)))
		names[n++] = "server.user";
	out[0] = '\0';
	for (size_t i = 0, used = 0; i < n && used < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", names[i]);
}

/* Health slots of datacenters no longer configured, or named only by a
 * refused build, go back to the pool (after publish no reader holds the
 * previous snapshot: snapshot_publish waits for them), and their answer
 * counts start over for whichever name gets the slot next. */
/* After a swap (or a failed build): frees the health slots and address
 * bits that the snapshot now served does not use; the old one is gone. */
void server_release_health_slots(void)
{
	const struct snapshot *snap = snapshot_current();
	stats_datacenters_released(health_release_unused(snap ? policy_set_health_slots(snap->policies) : 0));
	uint64_t keep[HEALTH_MAX_SLOTS][HEALTH_ADDRESS_WORDS] = {{0}};
	if (snap)
		policy_set_address_bits(snap->policies, keep);
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++)
		health_release_address_bits(slot, keep[slot]);
}

static int server_reload(struct server *s, uint64_t *generation, char *err, size_t errlen)
{
	struct config cfg;
	log_info("reloading %s", s->config->path);
	if (config_load(s->config->path, &cfg, err, errlen) < 0) {
		log_error("reload failed, still serving the previous data: %s", err);
		stats_reload(false);
		return -1;
	}
	struct snapshot *snap;
	if (snapshot_build(&cfg, &snap, err, errlen) < 0) {
		log_error("reload failed, still serving the previous data: %s", err);
		config_free(&cfg);
		stats_reload(false);
		server_release_health_slots();
		return -1;
	}
	char changed[96];
	server_restart_settings(s->config, &cfg, changed, sizeof(changed));
	if (changed[0])
		log_warn("reload: %s changed; that takes effect only after a restart", changed);
	s->tcp_idle_ms = cfg.tcp_idle_timeout_ms;
	s->tcp_max = cfg.tcp_max_connections;
	/* Probes before the swap, so a new check's initial state is in place
	 * when the first query sees the new snapshot. */
	char perr[256];
	if (probe_apply(&s->loop, &cfg, perr, sizeof(perr)) < 0)
		log_warn("reload: %s", perr);
	const struct snapshot *old = snapshot_current(); /* the loop thread publishes: still alive here */
	size_t old_zones = old != NULL ? zone_table_count(old->zones) : 0;
	snapshot_publish(snap);
	probe_settle();
	server_release_health_slots();
	stats_reload(true); /* record numbers may have changed: their counts start over */
	memcpy(s->config_sha256, cfg.sha256, sizeof(s->config_sha256));
	server_watch_arm(s); /* the new snapshot may name other files */
	log_info("reloaded %s: %zu zones, generation %llu", s->config->path, cfg.zone_count,
	         (unsigned long long)snap->generation);
	if (cfg.zone_count == 0 && old_zones > 0)
		log_warn("reload: %s has no zones any more; every query is now REFUSED", s->config->path);
	*generation = snap->generation;
	config_free(&cfg);
	return 0;
}

static int server_control_reload(void *ctx, uint64_t *generation, char *err, size_t errlen)
{
	return server_reload(ctx, generation, err, errlen);
}

/* The control socket runs on the loop thread, which publishes snapshots:
 * the current one cannot be freed while explain reads it. */
static int server_control_explain(void *ctx, const char *client_ip, const char *name, const char *type,
                                  char *out, size_t outlen)
{
	(void)ctx;
	return explain_query(snapshot_current(), client_ip, name, type, out, outlen);
}

static void server_on_signals(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	struct server *s = h->data;
	struct signalfd_siginfo si;
	while (!uv_is_closing((uv_handle_t *)h) && read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			uint64_t generation;
			char err[1024];
			server_reload(s, &generation, err, sizeof(err)); /* logs either way */
			continue;
		}
		log_info("%s: stopping", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
		server_stop(s);
	}
}

/* Blocks SIGTERM, SIGINT and SIGHUP in this thread, so in every thread
 * started after it (the UDP workers, libuv's thread pool), and reads them
 * from a signalfd on the loop (see the top of this file). */
static int server_start_signals(struct server *s)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	int r;
	if (s->sig_fd < 0)
		r = uv_translate_sys_error(errno);
	else
		r = uv_poll_init(&s->loop, &s->sig_poll, s->sig_fd);
	if (r < 0) {
		log_error("cannot watch for signals: %s", uv_strerror(r));
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		return -1;
	}
	s->sig_poll.data = s;
	s->signals_started = true;
	uv_poll_start(&s->sig_poll, UV_READABLE, server_on_signals);
	return 0;
}

/* ---- run ---- */

static int server_open_udp(struct server *s)
{
	const struct config *cfg = s->config;
	s->udp_fd_count = (size_t)s->worker_count * cfg->listen_count;
	s->udp_fds = malloc(s->udp_fd_count * sizeof(*s->udp_fds));
	s->udp_pktinfo = malloc(s->udp_fd_count * sizeof(*s->udp_pktinfo));
	if (!s->udp_fds || !s->udp_pktinfo) {
		log_error("out of memory");
		s->udp_fd_count = 0;
		return -1;
	}
	for (size_t i = 0; i < s->udp_fd_count; i++)
		s->udp_fds[i] = -1;
	for (unsigned w = 0; w < s->worker_count; w++) {
		for (size_t l = 0; l < cfg->listen_count; l++) {
			size_t k = (size_t)w * cfg->listen_count + l;
			s->udp_pktinfo[k] = udp_is_wildcard(&cfg->listen[l]);
			s->udp_fds[k] = udp_socket_open(&cfg->listen[l], s->udp_pktinfo[k]);
			if (s->udp_fds[k] < 0) {
				log_error("cannot listen on udp %s: %s", cfg->listen[l].text,
				          strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

static int server_start_workers(struct server *s)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* workers inherit it: signals go to the loop */
	int rc = 0;
	for (unsigned w = 0; w < s->worker_count; w++) {
		struct udp_worker *wk = &s->workers[w];
		wk->server = s;
		wk->fd_count = s->config->listen_count;
		wk->fds = s->udp_fds + (size_t)w * wk->fd_count;
		wk->pktinfo = s->udp_pktinfo + (size_t)w * wk->fd_count;
		int e = pthread_create(&wk->thread, NULL, udp_worker_main, wk);
		if (e) {
			log_error("cannot start udp worker: %s", strerror(e));
			rc = -1;
			break;
		}
		wk->started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* "serving 1 zone (13 records) on 127.0.0.1:5300 udp+tcp, [::1]:5300 udp+tcp, 2 workers" */
static void server_log_serving(const struct server *s)
{
	const struct snapshot *snap = snapshot_current();
	size_t zones = 0, records = 0;
	for (size_t i = 0; snap && i < zone_table_count(snap->zones); i++, zones++)
		records += zone_table_at(snap->zones, i)->rr_count;
	char addrs[512];
	size_t used = 0;
	addrs[0] = '\0';
	for (size_t i = 0; i < s->config->listen_count && used < sizeof(addrs); i++) {
		int n = snprintf(addrs + used, sizeof(addrs) - used, "%s%s udp+tcp", i ? ", " : "",
		                 s->config->listen[i].text);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	log_info("serving %zu zone%s (%zu records) on %s, %u worker%s", zones, zones == 1 ? "" : "s", records, addrs,
	         s->worker_count, s->worker_count == 1 ? "" : "s");
}

/*
 * server.user: every socket is open (port 53 needs root to bind), so the
 * process becomes that account for good before any worker thread starts
 * or any probe runs.  The control socket is handed to the account first:
 * its operator can use geosteerctl without root, and geosteerd can remove
 * the socket when it stops (given a folder it may write to).
 */
static int server_become_user(struct server *s)
{
	const char *spec = s->config->user;
	struct privileges_account account;
	const char *why = privileges_lookup(spec, &account);
	char err[512];
	if (why) {
		log_error("server.user '%s': %s", spec, why);
		return -1;
	}
	if (geteuid() == 0 && control_chown(account.uid, account.gid, err, sizeof err) < 0)
		log_warn("control socket: cannot hand it to %s: %s", spec, err);
	if (privileges_drop(&account, spec, err, sizeof err) < 0) {
		log_error("%s", err);
		return -1;
	}
	log_info("running as %s (uid %u, gid %u)", spec, (unsigned)getuid(), (unsigned)getgid());
	return 0;
}

int server_run(const struct config *config)
{
	signal(SIGPIPE, SIG_IGN);
	struct server *s = calloc(1, sizeof(*s));
	if (!s) {
		log_error("out of memory");
		return -1;
	}
	s->config = config;
	s->worker_count = config->workers ? config->workers : 1;
	s->tcp_max = config->tcp_max_connections;
	s->tcp_idle_ms = config->tcp_idle_timeout_ms;
	s->wake_fd = -1;
	s->sig_fd = -1;
	int rc = -1;

	if (uv_loop_init(&s->loop) < 0) {
		log_error("cannot start the event loop");
		free(s);
		return -1;
	}
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->workers = calloc(s->worker_count, sizeof(*s->workers));
	s->listeners = calloc(config->listen_count, sizeof(*s->listeners));
	if (s->wake_fd < 0 || !s->workers || !s->listeners) {
		log_error("cannot set up the server: %s", strerror(errno));
		goto stop;
	}
	if (server_open_udp(s) < 0)
		goto stop;
	for (size_t i = 0; i < config->listen_count; i++) {
		struct tcp_listener *l = &s->listeners[i];
		l->server = s;
		l->listen = &config->listen[i];
		int r = tcp_listen_on(s, l);
		s->listener_count = i + 1; /* initialized, so closed on the way out */
		if (r < 0) {
			log_error("cannot listen on tcp %s: %s", l->listen->text, uv_strerror(r));
			goto stop;
		}
	}
	if (server_start_signals(s) < 0)
		goto stop;
	s->loop_stats = stats_register();
	memcpy(s->config_sha256, config->sha256, sizeof(s->config_sha256));
	s->control = (struct control_hooks){.ctx = s,
	                                    .version = GEOSTEER_VERSION,
	                                    .config_path = config->path,
	                                    .config_sha256 = s->config_sha256,
	                                    .reload = server_control_reload,
	                                    .explain = server_control_explain};
	config_control_path(config, s->control_path, sizeof(s->control_path));
	char cerr[1024];
	if (control_start(&s->loop, s->control_path, &s->control, cerr, sizeof(cerr)) < 0) {
		log_error("cannot open the control socket: %s", cerr);
		goto stop;
	}
	if (config->metrics_count &&
	    metrics_start(&s->loop, config->metrics, config->metrics_count, cerr, sizeof(cerr)) < 0) {
		log_error("cannot serve metrics: %s", cerr);
		goto stop;
	}
	if (config->user && server_become_user(s) < 0)
		goto stop;
	char perr[256];
	if (probe_apply(&s->loop, config, perr, sizeof(perr)) < 0)
		log_warn("%s", perr);
	probe_settle(); /* nothing was probed before: nothing to wait for */
	if (server_start_workers(s) < 0)
		goto stop;

	server_watch_start(s);
	server_log_serving(s);
	uv_run(&s->loop, UV_RUN_DEFAULT);
	rc = 0;

stop:
	server_stop(s);                   /* idempotent: after a signal it only finds closed handles */
	uv_run(&s->loop, UV_RUN_DEFAULT); /* completes the closes */
	for (unsigned w = 0; w < s->worker_count && s->workers; w++)
		if (s->workers[w].started)
			pthread_join(s->workers[w].thread, NULL);
	if (uv_loop_close(&s->loop) != 0)
		log_warn("event loop closed with handles still open");
	for (size_t i = 0; i < s->udp_fd_count; i++)
		if (s->udp_fds[i] >= 0)
			close(s->udp_fds[i]);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->sig_fd >= 0)
		close(s->sig_fd);
	free(s->udp_fds);
	free(s->udp_pktinfo);
	free(s->workers);
	free(s->listeners);
	free(s);
	return rc;
}
