// Command loadtest runs the device events API on this machine (DynamoDB
// Local persisting to a temporary folder, the seven functions, the local
// gateway on a loopback port), drives it with concurrent clients for a
// while, and then checks the history of what it acknowledged against what
// it stored: no acknowledged write lost, none stored twice, aggregates
// exact, paging complete.
//
//	go run ./infra/local/loadtest [-c 16] [-d 30s] [-faults]   (make loadtest C=16 D=30 FAULTS=1)
//
// With -faults, DynamoDB Local is killed and restarted during the run and a
// fault-injecting proxy (infra/local/faultproxy) sits between the handlers
// and it. The last line sums the run up; the exit status is 1 when any
// check failed. The temporary folder (DynamoDB Local's data and log, the
// API's log) is removed at the end unless LOADTEST_KEEP is set.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/fleetlog/device-events/infra/local/faultproxy"
)

func main() {
	clients := flag.Int("c", 16, "concurrent clients")
	d := seconds(30 * time.Second)
	flag.Var(&d, "d", "how long the clients run: seconds (30) or a duration (1m)")
	faults := flag.Bool("faults", false, "kill and restart DynamoDB Local and inject faults between the handlers and it")
	seed := flag.Uint64("seed", 0, "seed of the clients' and the proxy's choices (0: random)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest: -cpuprofile:", err)
			os.Exit(2)
		}
	}
	if *clients < 1 || d <= 0 {
		fmt.Fprintln(os.Stderr, "loadtest: -c and -d must be positive")
		os.Exit(2)
	}
	if *seed == 0 {
		*seed = rand.Uint64()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, *clients, time.Duration(d), *faults, *seed)
	stop()
	pprof.StopCPUProfile()
	os.Exit(code)
}

// seconds is a duration flag that also takes a plain number of seconds,
// as `make loadtest D=30` passes it.
type seconds time.Duration

func (s *seconds) String() string { return time.Duration(*s).String() }

func (s *seconds) Set(v string) error {
	if n, err := strconv.Atoi(v); err == nil {
		*s = seconds(time.Duration(n) * time.Second)
		return nil
	}
	d, err := time.ParseDuration(v)
	*s = seconds(d)
	return err
}

func progress(start time.Time, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadtest [%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, clients int, d time.Duration, withFaults bool, seed uint64) int {
	t0 := time.Now()
	st, err := startStack(ctx, withFaults, seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		return 1
	}
	defer st.close()
	progress(t0, "stack up in %.1fs: API %s, DynamoDB Local on port %d (data in %s), seed %d", time.Since(t0).Seconds(), st.URL, st.opts.Port, st.dir, seed)

	httpClient := &http.Client{
		// Past the gateway's 10 s: a request that takes longer hangs.
		Timeout:   15 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2, IdleConnTimeout: time.Minute},
	}
	h := newHistory()
	start := time.Now()
	until := start.Add(d)

	var flog faultLog
	faultsDone := make(chan struct{})
	if withFaults {
		go func() {
			defer close(faultsDone)
			runFaults(ctx, st, h, start, d, &flog, func(s string) { progress(t0, "%s", s) })
		}()
	} else {
		close(faultsDone)
	}

	// The clients stop starting operations at the end of the run, or when
	// the fault schedule is over if that is later; an operation under way
	// then ends within its bounded retries.
	over := func() bool {
		select {
		case <-faultsDone:
			return !time.Now().Before(until)
		default:
			return false
		}
	}
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	all := make([]*stats, clients)
	var wg sync.WaitGroup
	for i := range clients {
		all[i] = newStats()
		w := &worker{id: i, h: h, start: start, rng: rand.New(rand.NewPCG(seed, uint64(i))),
			c: &caller{http: httpClient, base: st.URL, token: st.Token, stats: all[i]}}
		wg.Go(func() { w.run(workCtx, over) })
	}
	tick := time.NewTicker(5 * time.Second)
	go func() {
		for {
			select {
			case <-tick.C:
				req, errs := 0, 0
				for _, s := range all {
					r, e := s.snapshot()
					req, errs = req+r, errs+e
				}
				acked, _, _, _ := h.counts()
				progress(t0, "requests %d (%.0f/s), errors %d, events acknowledged %d", req, float64(req)/time.Since(start).Seconds(), errs, acked)
			case <-workCtx.Done():
				return
			}
		}
	}()
	wg.Wait()
	stopWork()
	tick.Stop()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "loadtest: interrupted")
		return 1
	}
	if flog.err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", flog.err)
		return 1
	}
	var counts faultCounts
	if withFaults {
		counts = faultCounts{proxy: st.proxy.Counts(), kills: flog.kills, down: flog.downtime}
		st.proxy.Set(faultproxy.Faults{})
	}
	load := merge(all)
	progress(t0, "load over after %.1fs; healing unanswered writes and checking the store", elapsed.Seconds())

	// Healing and checks go through the same API, without faults; their
	// requests are counted apart.
	checkStats := newStats()
	checker := &caller{http: httpClient, base: st.URL, token: st.Token, stats: checkStats}
	heal(ctx, checker, h)
	res, err := verify(ctx, st, checker, h, start)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: checking:", err)
		return 1
	}
	ok := report(summary{clients: clients, elapsed: elapsed, withFaults: withFaults, dir: st.dir,
		load: load, checks: checkStats, h: h, res: res, faults: counts, flog: &flog})
	if !ok {
		return 1
	}
	return 0
}

// summary is what report prints.
type summary struct {
	clients    int
	elapsed    time.Duration
	withFaults bool
	dir        string
	load       *stats // the load's attempts
	checks     *stats // healing's and the checks' attempts
	h          *history
	res        *result
	faults     faultCounts
	flog       *faultLog
}

// report prints the run's outcome, the final line last, and says whether
// every check passed.
func report(s summary) bool {
	load, checks, res := s.load, s.checks, s.res
	acked, deleted, pending, unknownDeletes := s.h.counts()
	kept := ""
	if os.Getenv("LOADTEST_KEEP") != "" {
		kept = "; data and logs kept in " + s.dir
	}
	fmt.Printf("loadtest: %d clients for %.1fs%s%s\n", s.clients, s.elapsed.Seconds(), map[bool]string{true: " with faults", false: ""}[s.withFaults], kept)
	fmt.Printf("history: %d events acknowledged by puts, %d of them deleted by acknowledged deletes, %d by deletes still unanswered after healing; %d puts still unanswered after healing (never acknowledged)\n",
		acked, deleted, unknownDeletes, pending)
	fmt.Printf("answers: %s\n", load.statusLine())
	fmt.Printf("errors: every attempt answered neither 2xx nor a status the mix provokes on purpose (404 of a missing id, 409 of a reused key, 412 of a stale If-Match, 404 of a delete retried after an unanswered attempt), or not answered at all (hang-ups on purpose aside): %s\n", load.errorLine())
	fmt.Printf("500s: %d during the load, %d while healing and checking; 429/503 without Retry-After or the contract's code: %d; answers at or after the %s Lambda timeout: %d (slowest %.2fs)\n",
		load.byStatus[500], checks.byStatus[500], load.badRetry+checks.badRetry, lambdaTimeout, load.late+checks.late, max(load.maxLatency, checks.maxLatency).Seconds())
	if s.withFaults {
		fmt.Printf("faults: %s\n", s.faults.line())
		for _, l := range s.flog.lines {
			fmt.Printf("  %s\n", l)
		}
		if s.flog.lost+s.flog.undeleted > 0 {
			fmt.Printf("DynamoDB Local itself lost %d events and undid %d deletes it had acknowledged in the last second before a kill: its TransactWriteItems are not durable across a SIGKILL with -dbPath (DynamoDB's are). They were found by reading it right after each restart, before the handlers could reach it, and are left out of the counts below; a retry with the same key stores such an event again, once.\n",
				s.flog.lost, s.flog.undeleted)
		}
		if s.faults.kills < len(kills) {
			res.fail(fmt.Sprintf("DynamoDB Local killed fewer than %d times", len(kills)), 1)
		}
	}
	for _, l := range sortedLines(res.notes) {
		fmt.Printf("note: %s\n", l)
	}
	res.fail("500 answers", load.byStatus[500]+checks.byStatus[500])
	res.fail("429/503 answers without Retry-After or the contract's code", load.badRetry+checks.badRetry)
	res.fail("answers at or after the Lambda timeout (in AWS the function is cut off and API Gateway answers 500)", load.late+checks.late)
	for _, l := range sortedLines(res.failures) {
		fmt.Printf("FAILED: %s\n", l)
	}
	fmt.Println("counts: acknowledged = events a put acknowledged that no acknowledged delete removed since (DynamoDB Local's own losses aside); " +
		"stored = those of them the store holds; lost = acknowledged - stored; duplicated = extra copies of an event, and events stored with a key used before for another body; " +
		"aggregate mismatches = hourly buckets (per device and type, and per type) whose count differs from the events stored; " +
		"requests, rps, p50, p99 = the load's HTTP attempts, retries included, healing and checks not; errors as above")
	line := fmt.Sprintf("loadtest: acknowledged %d, stored %d, lost %d, duplicated %d, aggregate mismatches %d, requests %d, rps %.0f, p50 %.0f ms, p99 %.0f ms, errors %d",
		res.acknowledged, res.stored, res.lost, res.duplicated, res.aggMismatches, load.requests, float64(load.requests)/s.elapsed.Seconds(),
		load.percentile(50), load.percentile(99), load.errors)
	if s.withFaults {
		line += fmt.Sprintf(", faults %d", s.faults.total())
	}
	fmt.Println(line)
	return res.lost == 0 && res.duplicated == 0 && res.aggMismatches == 0 && len(res.failures) == 0
}

type faultCounts struct {
	proxy faultproxy.Counts
	kills int
	down  time.Duration
}

func (f faultCounts) total() int64 { return f.proxy.Injected() + int64(f.kills) }

func (f faultCounts) line() string {
	p := f.proxy
	return fmt.Sprintf("%d = DynamoDB Local killed (SIGKILL) and restarted %d times (unreachable %.1fs in all) + %d injected by the proxy in %d requests: "+
		"%d delayed up to 150 ms (2.4 s in the brownout), %d answers held 3 s past the SDK's attempt timeout, %d hung until the client gave up, "+
		"%d connections dropped before and %d after DynamoDB got the request, %d throttled, %d InternalServerError; "+
		"besides, %d requests found DynamoDB Local down",
		f.total(), f.kills, f.down.Seconds(), p.Injected(), p.Requests, p.Delayed, p.Stalled, p.Hung, p.DroppedBefore, p.DroppedAfter, p.Throttled, p.ServerErrors, p.Unreachable)
}
