package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fleetlog/device-events/infra/local/faultproxy"
)

// background are the faults of the whole run: some latency, a few stalls
// past the SDK's 2.5 s attempt timeout (the write happened, the answer came
// too late), connections dropped before and after DynamoDB got the
// request, throttling and server errors.
var background = faultproxy.Faults{
	Delay: 0.10, MaxDelay: 150 * time.Millisecond,
	Stall: 0.005, StallFor: 3 * time.Second,
	DropBefore: 0.01, DropAfter: 0.02,
	Throttle: 0.03, ServerError: 0.005,
}

// storm is a window of heavier faults, at a share of the run.
type storm struct {
	name   string
	at     float64
	last   time.Duration
	faults faultproxy.Faults
}

// storms run one after the other, each at its share of the run or when
// the one before ends. The run opens with a slow, then silent, DynamoDB,
// while the SDK's retry quota is still full (kills empty it, and the SDK
// then makes one attempt per call): a request whose first call to
// DynamoDB succeeded slowly and whose next call hangs through all its
// attempts is the one that runs into the function's 10 s.
var storms = []storm{
	// DynamoDB slow, just inside the 2.5 s attempt timeout.
	{"brownout", 0.05, 3 * time.Second, faultproxy.Faults{Delay: 1, MaxDelay: 2400 * time.Millisecond}},
	// DynamoDB stops answering: every attempt times out.
	{"hang", 0.15, 8500 * time.Millisecond, faultproxy.Faults{Hang: 1}},
	// Throttling that outlasts the SDK's three attempts: the API must
	// answer 429 throttled.
	{"throttle storm", 0.6, 2 * time.Second, faultproxy.Faults{Throttle: 0.9}},
	// Half the answers lost after the write happened.
	{"drop storm", 0.9, 2500 * time.Millisecond, faultproxy.Faults{DropAfter: 0.5, DropBefore: 0.1}},
}

// kills are when DynamoDB Local is killed (SIGKILL), as shares of the run,
// one after the other; each is restarted on the same port and data folder
// after a pause.
var kills = []float64{0.45, 0.62, 0.8}

const downFor = time.Second

// faultLog is what the schedule did.
type faultLog struct {
	mu       sync.Mutex
	kills    int
	downtime time.Duration
	storms   int
	// lost and undeleted are what DynamoDB Local itself lost of what it had
	// acknowledged, found right after its restarts.
	lost, undeleted int
	lines           []string
	err             error
}

func (f *faultLog) add(format string, args ...any) {
	f.mu.Lock()
	f.lines = append(f.lines, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// runFaults plays the schedule over a run of length d from start and
// returns when it is over: at least every kill done and DynamoDB Local up
// again, which may be after d on a slow machine.
func runFaults(ctx context.Context, st *stack, h *history, start time.Time, d time.Duration, log *faultLog, progress func(string)) {
	st.proxy.Set(background)
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, s := range storms {
			if !pause(ctx, time.Until(start.Add(time.Duration(s.at*float64(d))))) {
				return
			}
			began := time.Since(start)
			st.proxy.Set(s.faults)
			progress(s.name)
			pause(ctx, s.last)
			st.proxy.Set(background)
			log.mu.Lock()
			log.storms++
			log.mu.Unlock()
			log.add("%s at %.1fs for %s", s.name, began.Seconds(), s.last)
		}
	})
	wg.Go(func() {
		earliest := start
		for _, at := range kills {
			when := start.Add(time.Duration(at * float64(d)))
			if when.Before(earliest) {
				when = earliest
			}
			if !pause(ctx, time.Until(when)) {
				return
			}
			// The proxy stays down from the kill until DynamoDB Local's data
			// has been read after the restart, so that what it lost is told
			// apart from what the API might lose.
			st.proxy.SetDown(true)
			killed := time.Now()
			st.kill()
			progress("DynamoDB Local killed")
			pause(ctx, downFor)
			err := st.restart(ctx)
			var lost, undeleted int
			if err == nil {
				lost, undeleted, err = checkRestart(ctx, st, h, killed)
			}
			st.proxy.SetDown(false)
			if err != nil {
				log.mu.Lock()
				log.err = err
				log.mu.Unlock()
				return
			}
			down := time.Since(killed)
			progress(fmt.Sprintf("DynamoDB Local back after %.1fs", down.Seconds()))
			log.mu.Lock()
			log.kills++
			log.downtime += down
			log.lost += lost
			log.undeleted += undeleted
			log.mu.Unlock()
			log.add("DynamoDB Local killed at %.1fs, reachable again %.1fs later; it had lost %d acknowledged events and brought back %d deleted ones",
				killed.Sub(start).Seconds(), down.Seconds(), lost, undeleted)
			earliest = time.Now().Add(2 * time.Second)
		}
	})
	wg.Wait()
}

// ddbLossWindow: DynamoDB Local loses at most the transactions it
// acknowledged in the last moments before a SIGKILL (tens of
// milliseconds when measured). What it had acknowledged earlier and lacks
// after the restart is a loss of the API's, and stays counted as one.
const ddbLossWindow = time.Second

// checkRestart reads DynamoDB Local directly right after a restart, while
// the handlers cannot reach it, and marks the acknowledged events it lost
// and the acknowledged deletes it undid around the kill. Events whose
// delete is under way or unknown are left alone: either outcome is right
// for them.
func checkRestart(ctx context.Context, st *stack, h *history, killed time.Time) (lost, undeleted int, err error) {
	present := map[string]bool{}
	for _, d := range devices {
		evs, err := storeEvents(ctx, st.store, d)
		if err != nil {
			return 0, 0, fmt.Errorf("reading DynamoDB Local after its restart: %w", err)
		}
		for _, ev := range evs {
			present[ev.ID] = true
		}
	}
	since := killed.Add(-ddbLossWindow)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.acked {
		switch {
		case e.state == live && !present[e.id] && e.ackedAt.After(since):
			e.state = lostByDDB
			lost++
		case e.state == deleted && present[e.id] && e.deletedAt.After(since):
			e.state = undeletedByDDB
			undeleted++
		}
	}
	return lost, undeleted, nil
}
