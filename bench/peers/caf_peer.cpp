// caf-peer: the CAF side of oscar-bench's comparison (CAF 0.17).
//
// oscar-bench starts this program and drives it through standard input
// and output, one workload at a time, alternating with its own runs: it
// writes "WORKLOAD N" and reads back "WORKLOAD VALUE" (or "WORKLOAD error
// REASON"), with VALUE in the unit oscar-bench reports for that workload.
// Each workload does the same work as the Oscar-C side, with the same
// counts:
//
//   call-rtt N     N requests, one after the other, from one actor to
//                  another, the next sent from the previous response's
//                  handler; us per request
//   tell-rate N    4 threads send N one-way messages each (anon_send) into
//                  one actor, timed until it has seen all 4N; M messages/s
//   spawn-tree D   a tree of actors: each at depth above 1 spawns two
//                  children, sends each a "spread" and waits for both to
//                  report, so 2^D - 1 actors in all; us per actor
//   idle-actor N   heap bytes per actor with N idle actors alive (glibc's
//                  mallinfo2 before and after), once each has answered one
//                  message, so that all are fully set up
//   tcp-rtt N      as call-rtt, to an actor of a second process reached
//                  through CAF's middleman on loopback TCP
//   tcp-pipe N     N requests to that actor with 1,000 in flight; k/s
//   tcp-bin64m N   N requests each carrying one 64 MiB std::vector<char>
//                  (the message built before the clock starts), answered
//                  with its size; GB/s
//
// The second process is this program run with --serve: it publishes an
// echo actor on 127.0.0.1 (a port the system picks), prints "ready PORT",
// and runs until its standard input closes; it also dies with its parent
// (PR_SET_PDEATHSIG). It is started on the first cross-process workload
// and stopped, and reaped, when standard input closes here.
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using ping_atom   = caf::atom_constant<caf::atom("ping")>;
using pong_atom   = caf::atom_constant<caf::atom("pong")>;
using take_atom   = caf::atom_constant<caf::atom("take")>;
using run_atom    = caf::atom_constant<caf::atom("run")>;
using hit_atom    = caf::atom_constant<caf::atom("hit")>;
using wait_atom   = caf::atom_constant<caf::atom("wait")>;
using spread_atom = caf::atom_constant<caf::atom("spread")>;
using done_atom   = caf::atom_constant<caf::atom("done")>;

constexpr int64_t window   = 1000;
constexpr size_t  big_size = size_t(64) << 20;
// Every wait of the host thread is bounded; oscar-bench bounds the rest.
constexpr auto answer_timeout = std::chrono::seconds(120);

double now_s()
{
	using namespace std::chrono;
	return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------------------
// Actors

// echo answers ping with pong and take(bytes) with the number of bytes.
caf::behavior echo()
{
	return {
		[](ping_atom) { return pong_atom::value; },
		[](take_atom, const std::vector<char>& bytes) { return int64_t(bytes.size()); },
	};
}

// pinger: run(peer, n, in_flight) makes n requests to peer, keeping
// in_flight of them outstanding (1: one after the other), and answers once
// the last response came.
struct pinger_state {
	caf::actor            peer;
	int64_t               left_to_send = 0;
	int64_t               left_to_get  = 0;
	caf::response_promise done;
};

using pinger_actor = caf::stateful_actor<pinger_state>;

void ping_one(pinger_actor* self)
{
	self->state.left_to_send--;
	self->request(self->state.peer, caf::infinite, ping_atom::value).then([=](pong_atom) {
		if (--self->state.left_to_get == 0) {
			self->state.done.deliver(done_atom::value);
		} else if (self->state.left_to_send > 0) {
			ping_one(self);
		}
	});
}

caf::behavior pinger(pinger_actor* self)
{
	return {
		[=](run_atom, caf::actor peer, int64_t n, int64_t in_flight) {
			self->state.peer         = std::move(peer);
			self->state.left_to_send = n;
			self->state.left_to_get  = n;
			self->state.done         = self->make_response_promise();
			for (int64_t i = 0; i < in_flight && i < n; i++) {
				ping_one(self);
			}
		},
	};
}

// sink counts hits; wait(n) is answered once it has seen n.
struct sink_state {
	int64_t               count = 0;
	int64_t               want  = -1;
	caf::response_promise waiter;
};

caf::behavior sink(caf::stateful_actor<sink_state>* self)
{
	return {
		[=](hit_atom) {
			if (++self->state.count == self->state.want) {
				self->state.waiter.deliver(done_atom::value);
			}
		},
		[=](wait_atom, int64_t n) {
			self->state.want   = n;
			self->state.waiter = self->make_response_promise();
			if (self->state.count >= n) {
				self->state.waiter.deliver(done_atom::value);
			}
		},
	};
}

// tree: spread(depth) spawns two children and spreads depth - 1 to each,
// unless depth is 1; done(count) goes to the parent once both children
// reported, counting the actor itself, and the actor quits.
struct tree_state {
	int     reports = 0;
	int64_t count   = 1;
};

using tree_actor = caf::stateful_actor<tree_state>;

caf::behavior tree(tree_actor* self, caf::actor parent)
{
	return {
		[=](spread_atom, int depth) {
			if (depth == 1) {
				self->send(parent, done_atom::value, int64_t(1));
				self->quit();
				return;
			}
			for (int i = 0; i < 2; i++) {
				auto child = self->spawn(tree, caf::actor_cast<caf::actor>(self));
				self->send(child, spread_atom::value, depth - 1);
			}
		},
		[=](done_atom, int64_t count) {
			self->state.count += count;
			if (++self->state.reports == 2) {
				self->send(parent, done_atom::value, self->state.count);
				self->quit();
			}
		},
	};
}

caf::behavior idle()
{
	return {
		[](ping_atom) { return pong_atom::value; },
	};
}

// ---------------------------------------------------------------------------
// Workloads (run on the main thread, through a scoped actor)

[[noreturn]] void fail(const std::string& what)
{
	throw std::runtime_error(what);
}

// wait_done waits for a done answer to a request made with self.
template <class Handle>
void wait_done(Handle&& handle, caf::actor_system& sys)
{
	handle.receive([](done_atom) {},
	    [&](caf::error& err) { fail(sys.render(err)); });
}

// pings makes n requests from a pinger to peer, in_flight at a time, and
// returns the seconds they took.
double pings(caf::actor_system& sys, const caf::actor& peer, int64_t n, int64_t in_flight)
{
	caf::scoped_actor self{sys};
	auto               p  = sys.spawn(pinger);
	double             t0 = now_s();
	wait_done(self->request(p, answer_timeout, run_atom::value, peer, n, in_flight), sys);
	double dt = now_s() - t0;
	self->send_exit(p, caf::exit_reason::user_shutdown);
	return dt;
}

double call_rtt(caf::actor_system& sys, int64_t n)
{
	auto   peer = sys.spawn(echo);
	double us   = pings(sys, peer, n, 1) / double(n) * 1e6;
	caf::anon_send_exit(peer, caf::exit_reason::user_shutdown);
	return us;
}

double tell_rate(caf::actor_system& sys, int64_t per_sender)
{
	caf::scoped_actor self{sys};
	auto               s = sys.spawn(sink);
	std::vector<std::thread> senders;
	double                   t0 = now_s();
	for (int i = 0; i < 4; i++) {
		senders.emplace_back([&] {
			for (int64_t k = 0; k < per_sender; k++) {
				caf::anon_send(s, hit_atom::value);
			}
		});
	}
	wait_done(self->request(s, answer_timeout, wait_atom::value, 4 * per_sender), sys);
	double dt = now_s() - t0;
	for (auto& t : senders) {
		t.join();
	}
	self->send_exit(s, caf::exit_reason::user_shutdown);
	return double(4 * per_sender) / dt / 1e6;
}

double spawn_tree(caf::actor_system& sys, int depth)
{
	caf::scoped_actor self{sys};
	int64_t            count = 0;
	double             t0    = now_s();
	auto               root  = sys.spawn(tree, caf::actor_cast<caf::actor>(self));
	self->send(root, spread_atom::value, depth);
	self->receive([&](done_atom, int64_t n) { count = n; },
	    caf::after(answer_timeout) >> [] { fail("the tree did not report in time"); });
	double dt = now_s() - t0;
	if (count != (int64_t(1) << depth) - 1) {
		fail("the tree counted " + std::to_string(count) + " actors");
	}
	return dt / double(count) * 1e6;
}

double idle_bytes(caf::actor_system& sys, int64_t n)
{
	caf::scoped_actor       self{sys};
	std::vector<caf::actor> actors;
	actors.reserve(size_t(n)); // before the first measure: not counted
	malloc_trim(0);
	size_t before = mallinfo2().uordblks;
	for (int64_t i = 0; i < n; i++) {
		actors.push_back(sys.spawn(idle));
		self->send(actors.back(), ping_atom::value);
	}
	int64_t i = 0;
	self->receive_for(i, n)([](pong_atom) {},
	    caf::after(answer_timeout) >> [] { fail("idle actors did not answer in time"); });
	size_t after = mallinfo2().uordblks;
	for (auto& a : actors) {
		self->send_exit(a, caf::exit_reason::user_shutdown);
	}
	return (double(after) - double(before)) / double(n);
}

// ---------------------------------------------------------------------------
// The second process

// remote is the serving child and a handle on its echo actor.
struct remote {
	pid_t      pid = 0;
	int        in  = -1; // the write end of its standard input
	caf::actor echo;
};

// read_line reads one line from fd within timeout_ms, without buffering
// past the newline (a byte at a time: it is read once).
std::string read_line(int fd, int timeout_ms)
{
	std::string line;
	double      deadline = now_s() + timeout_ms / 1000.0;
	for (;;) {
		struct pollfd pfd  = { fd, POLLIN, 0 };
		int           left = int((deadline - now_s()) * 1000);
		char          c;
		if (left <= 0 || poll(&pfd, 1, left) <= 0 || read(fd, &c, 1) != 1) {
			fail("the serving process did not say it was ready");
		}
		if (c == '\n') {
			return line;
		}
		line += c;
	}
}

void remote_start(caf::actor_system& sys, remote& r)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		fail("pipe");
	}
	pid_t parent = getpid();
	std::fflush(nullptr);
	pid_t pid = fork();
	if (pid < 0) {
		fail("fork");
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0) {
			_exit(127);
		}
		char* args[] = { const_cast<char*>("caf-peer"), const_cast<char*>("--serve"),
			nullptr };
		execv("/proc/self/exe", args);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	r.pid          = pid;
	r.in           = in[1];
	std::string ln = read_line(out[0], 10000);
	close(out[0]);
	unsigned port = 0;
	if (std::sscanf(ln.c_str(), "ready %u", &port) != 1) {
		fail("the serving process said '" + ln + "'");
	}
	auto echo = sys.middleman().remote_actor("127.0.0.1", uint16_t(port));
	if (!echo) {
		fail("remote_actor: " + sys.render(echo.error()));
	}
	r.echo = *echo;
	pings(sys, r.echo, 100, 1); // warm up
}

void remote_stop(remote& r)
{
	if (r.pid <= 0) {
		return;
	}
	r.echo = nullptr;
	close(r.in); // end of file: the child exits
	int status;
	for (int i = 0; i < 5000 && waitpid(r.pid, &status, WNOHANG) == 0; i++) {
		usleep(1000);
	}
	if (waitpid(r.pid, &status, WNOHANG) == 0) {
		kill(r.pid, SIGKILL);
		waitpid(r.pid, &status, 0);
	}
	r.pid = 0;
}

double tcp_big(caf::actor_system& sys, const caf::actor& peer, int64_t n)
{
	caf::scoped_actor self{sys};
	caf::message      msg = caf::make_message(take_atom::value, std::vector<char>(big_size, 'x'));
	double            total = 0;
	for (int64_t i = 0; i < n; i++) {
		int64_t got = 0;
		double  t0  = now_s();
		self->request(peer, answer_timeout, msg)
		    .receive([&](int64_t len) { got = len; },
		        [&](caf::error& err) { fail(sys.render(err)); });
		total += now_s() - t0;
		if (got != int64_t(big_size)) {
			fail("the peer answered the wrong length");
		}
	}
	return double(big_size) * double(n) / total / 1e9;
}

// serve is the child's side: publish an echo actor on loopback and run
// until standard input closes.
int serve(caf::actor_system& sys)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	auto e    = sys.spawn(echo);
	auto port = sys.middleman().publish(e, 0, "127.0.0.1");
	if (!port) {
		std::cerr << "caf-peer --serve: publish: " << sys.render(port.error()) << "\n";
		return 1;
	}
	std::cout << "ready " << *port << std::endl;
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0) {
	}
	caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
	return 0;
}

// ---------------------------------------------------------------------------

double run(caf::actor_system& sys, remote& r, const std::string& name, int64_t n)
{
	if (name == "call-rtt") {
		return call_rtt(sys, n);
	}
	if (name == "tell-rate") {
		return tell_rate(sys, n);
	}
	if (name == "spawn-tree") {
		return spawn_tree(sys, int(n));
	}
	if (name == "idle-actor") {
		return idle_bytes(sys, n);
	}
	if (name != "tcp-rtt" && name != "tcp-pipe" && name != "tcp-bin64m") {
		fail("unknown workload");
	}
	if (r.pid == 0) {
		remote_start(sys, r);
	}
	if (name == "tcp-rtt") {
		return pings(sys, r.echo, n, 1) / double(n) * 1e6;
	}
	if (name == "tcp-pipe") {
		return double(n) / pings(sys, r.echo, n, window) / 1e3;
	}
	return tcp_big(sys, r.echo, n);
}

int drive(caf::actor_system& sys)
{
	remote      r;
	std::string line;
	std::cout << "ready" << std::endl;
	while (std::getline(std::cin, line)) {
		std::istringstream in(line);
		std::string        name;
		int64_t            n = 0;
		if (!(in >> name >> n)) {
			std::cout << "? error bad command" << std::endl;
			continue;
		}
		try {
			double v = run(sys, r, name, n);
			std::printf("%s %.6f\n", name.c_str(), v);
			std::fflush(stdout);
		} catch (const std::exception& e) {
			std::cout << name << " error " << e.what() << std::endl;
		}
	}
	remote_stop(r);
	return 0;
}

} // namespace

int main(int argc, char** argv)
{
	caf::actor_system_config cfg;
	cfg.load<caf::io::middleman>();
	caf::actor_system sys{cfg};
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && std::string(argv[1]) == "--serve") {
		return serve(sys);
	}
	return drive(sys);
}
