// Command bench prints the summary block of `make bench` from the output
// of its Go benchmarks and the sizes of the Lambda bootstraps:
//
//	go run ./infra/local/bench summary -bins build/lambda bench-output.txt...
//
// Every figure of the block comes from a benchmark's custom metric (see
// BENCHMARKS.md for what each means), except binary.max_bytes, the largest
// bootstrap under -bins as `make build` leaves them, and
// binary.max_over_hellosdk, that over the bootstrap of testdata/hellosdk,
// which the command builds with the same flags for the same architecture.
// Every function under -bins must have its cold-start figures. A figure
// that no input has is an error: the block is never printed with holes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fleetlog/device-events/infra/bootstrap"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "summary" {
		fmt.Fprintln(os.Stderr, "usage: bench summary [-bins build/lambda] bench-output.txt...")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("summary", flag.ExitOnError)
	bins := fs.String("bins", "build/lambda", "folder of the Lambda bootstraps (<function>/bootstrap)")
	_ = fs.Parse(os.Args[2:])
	floor, err := hellosdkBytes(context.Background(), *bins)
	if err == nil {
		err = summary(os.Stdout, *bins, floor, fs.Args())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench summary:", err)
		os.Exit(1)
	}
}

// The baselines of the cold-start benchmark (coldstart_test.go): hello
// world, hello world with the SDK's DynamoDB client making one call, and
// making the calls of a function's first request.
const (
	helloPackage         = "./infra/local/bench/testdata/hello"
	hellosdkPackage      = "./infra/local/bench/testdata/hellosdk"
	hellosdkcallsPackage = "./infra/local/bench/testdata/hellosdkcalls"
)

// buildPackage builds the main package pkg of the module rooted at root
// for linux/goarch into out, as package bootstrap builds a function's
// bootstrap: its flags, its environment.
func buildPackage(ctx context.Context, root, pkg, goarch, out string) error {
	args := append(append([]string{"build"}, bootstrap.Flags...), "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), bootstrap.Env(goarch)...)
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for linux/%s: %v\n%s", pkg, goarch, err, msg.Bytes())
	}
	return nil
}

// hellosdkBytes is the size of testdata/hellosdk built as the bootstraps
// under binDir were: same flags, and their architecture.
func hellosdkBytes(ctx context.Context, binDir string) (int64, error) {
	paths, err := filepath.Glob(filepath.Join(binDir, "*", "bootstrap"))
	if err != nil || len(paths) == 0 {
		return 0, fmt.Errorf("no bootstraps under %s (make build)", binDir)
	}
	arch := ""
	for _, p := range paths {
		a, err := archOf(p)
		if err != nil {
			return 0, err
		}
		if arch != "" && a != arch {
			return 0, fmt.Errorf("bootstraps of two architectures under %s: %s and %s", binDir, arch, a)
		}
		arch = a
	}
	root, err := bootstrap.ModuleRoot()
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "hellosdk-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "bootstrap")
	if err := buildPackage(ctx, root, hellosdkPackage, arch, out); err != nil {
		return 0, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// archOf is the GOARCH of an ELF executable.
func archOf(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_AARCH64:
		return "arm64", nil
	case elf.EM_X86_64:
		return "amd64", nil
	}
	return "", fmt.Errorf("%s: a bootstrap for %v, neither arm64 nor amd64", path, f.Machine)
}

// metric names one custom metric of one benchmark: the benchmark's name
// without the -GOMAXPROCS suffix, and the metric's unit.
type metric struct{ bench, unit string }

// line is one line of the summary: its key and where its value comes from.
type line struct {
	key  string
	from metric
}

// block is the summary of issues 7 and 12, in their order.
var block = []line{
	{"put.single.wcu_per_event", metric{"BenchmarkPut/single", "WCU/event"}},
	{"put.batch25.wcu_per_event", metric{"BenchmarkPut/batch25", "WCU/event"}},
	{"list.page100.rcu", metric{"BenchmarkListPage100", "RCU/op"}},
	{"list.nomatch_20k.rcu_max_per_request", metric{"BenchmarkList20k/nomatch_device", "RCU-max/request"}},
	{"list.critical_of_20k.rcu", metric{"BenchmarkList20k/critical_of_20k", "RCU/op"}},
	{"list.open_alarms_of_20k.rcu", metric{"BenchmarkList20k/open_alarms_of_20k", "RCU/op"}},
	{"list.fleet_page100.rcu", metric{"BenchmarkList20k/fleet_page100", "RCU/op"}},
	{"aggregate.year_daily.rcu", metric{"BenchmarkAggregate/year_daily_utc", "RCU/op"}},
	{"aggregate.day_hourly.rcu", metric{"BenchmarkAggregate/day_hourly", "RCU/op"}},
	{"aggregate.fleet_year_daily.rcu", metric{"BenchmarkAggregate/fleet_year_daily", "RCU/op"}},
	{"aggregate.device_alltypes_year_50types.rcu", metric{"BenchmarkAggregate/device_alltypes_year_50types", "RCU/op"}},
	{"aggregate.naive_over_counter.rcu_ratio", metric{"BenchmarkAggregateVsNaive", "RCU-ratio"}},
	{"aggregate.naive_over_counter.time_ratio", metric{"BenchmarkAggregateVsNaive", "time-ratio"}},
	{"e2e.put.overhead_ratio", metric{"BenchmarkPutOverhead", "overhead-ratio"}},
	{"handler.put.allocs_per_op", metric{"BenchmarkPutHandler", "allocs/op"}},
	{"response.max_bytes", metric{"BenchmarkListAnswerSize", "max-bytes"}},
	{"binary.max_bytes", metric{}},
	{"coldstart.ratio_vs_hello", metric{"BenchmarkColdStart", "ratio"}},
	{"coldstart.ratio_vs_hellosdk", metric{"BenchmarkColdStart", "max/hellosdk"}},
	{"binary.max_over_hellosdk", metric{}},
	{"coldstart.peak_rss_bytes", metric{"BenchmarkColdStart", "max-peak-rss-B"}},
	{"patch.wcu_after_100_updates", metric{"BenchmarkPatch/after_100_updates", "WCU/op"}},
	{"put.6mb_body.cpu_ms", metric{"BenchmarkPut6MBBody", "cpu-ms/op"}},
}

// extra lines follow the block, when their benchmarks ran.
var extra = []line{
	{"put.single.local_wcu_per_event", metric{"BenchmarkPut/single", "local-WCU/event"}},
	{"put.batch25.local_wcu_per_event", metric{"BenchmarkPut/batch25", "local-WCU/event"}},
	{"put.single_late.wcu_per_event", metric{"BenchmarkPut/single_late", "WCU/event"}},
	{"put.single_with_key.wcu_per_event", metric{"BenchmarkPut/single_with_key", "WCU/event"}},
	{"put.batch25_with_request_key.wcu_per_event", metric{"BenchmarkPut/batch25_with_request_key", "WCU/event"}},
	{"put.batch25_with_event_keys.wcu_per_event", metric{"BenchmarkPut/batch25_with_event_keys", "WCU/event"}},
	{"list.nomatch_20k.requests_per_pass", metric{"BenchmarkList20k/nomatch_device", "requests/pass"}},
	{"list.nomatch_20k.rcu_per_pass", metric{"BenchmarkList20k/nomatch_device", "RCU/pass"}},
	{"list.fleet_nomatch_40k.rcu_max_per_request", metric{"BenchmarkList20k/nomatch_fleet", "RCU-max/request"}},
	{"list.fleet_nomatch_40k.requests_per_pass", metric{"BenchmarkList20k/nomatch_fleet", "requests/pass"}},
	{"list.fleet_nomatch_40k.rcu_per_pass", metric{"BenchmarkList20k/nomatch_fleet", "RCU/pass"}},
	{"list.page_number_100_of_20k.rcu", metric{"BenchmarkPageNumbers/page100_of_20k", "RCU/op"}},
	{"list.page_number_100_of_20k.naive_rcu", metric{"BenchmarkPageNumbers/page100_of_20k", "naive-RCU/op"}},
	{"list.total_of_20k.rcu", metric{"BenchmarkPageNumbers/count_20k", "RCU/op"}},
	{"aggregate.year_daily_amsterdam.rcu", metric{"BenchmarkAggregate/year_daily_amsterdam", "RCU/op"}},
	{"aggregate.year_daily_kolkata.rcu", metric{"BenchmarkAggregate/year_daily_kolkata", "RCU/op"}},
	{"aggregate.year_daily_to_today.rcu", metric{"BenchmarkAggregate/year_daily_to_today", "RCU/op"}},
	{"aggregate.fleet_year_daily_kolkata.rcu", metric{"BenchmarkAggregate/fleet_year_daily_kolkata", "RCU/op"}},
	{"aggregate.fleet_year_daily_to_today.rcu", metric{"BenchmarkAggregate/fleet_year_daily_to_today", "RCU/op"}},
	{"aggregate.device_alltypes_year_50types_to_today.rcu", metric{"BenchmarkAggregate/device_alltypes_year_50types_to_today", "RCU/op"}},
	{"aggregate.first_read.device_alltypes_year_50types.rcu", metric{"BenchmarkAggregateFirstRead/device_alltypes_year_50types", "RCU/op"}},
	{"aggregate.first_read.device_alltypes_year_50types.wcu", metric{"BenchmarkAggregateFirstRead/device_alltypes_year_50types", "WCU/op"}},
	{"aggregate.first_read.fleet_year_daily.rcu", metric{"BenchmarkAggregateFirstRead/fleet_year_daily", "RCU/op"}},
	{"aggregate.first_read.fleet_year_daily.wcu", metric{"BenchmarkAggregateFirstRead/fleet_year_daily", "WCU/op"}},
	{"aggregate.naive.rcu", metric{"BenchmarkAggregateVsNaive", "naive-RCU/op"}},
	{"aggregate.counter.rcu", metric{"BenchmarkAggregateVsNaive", "counter-RCU/op"}},
	{"e2e.put.api_per_s", metric{"BenchmarkPutOverhead", "api-puts/s"}},
	{"e2e.put.sdk_per_s", metric{"BenchmarkPutOverhead", "sdk-puts/s"}},
	{"handler.put.bytes_per_op", metric{"BenchmarkPutHandler", "B/op"}},
	{"coldstart.ratio_vs_hellosdk_same_calls", metric{"BenchmarkColdStart", "max/hellosdk-same-calls"}},
	{"coldstart.put_event_ms", metric{"BenchmarkColdStart", "put-event-ms"}},
	{"coldstart.hello_ms", metric{"BenchmarkColdStart", "hello-ms"}},
	{"coldstart.hellosdk_ms", metric{"BenchmarkColdStart", "hellosdk-ms"}},
	{"coldstart.sdk_ratio_vs_hello", metric{"BenchmarkColdStart", "sdk-ratio"}},
	{"coldstart.hellosdk.peak_rss_bytes", metric{"BenchmarkColdStart", "hellosdk-peak-rss-B"}},
	{"coldstart.hello.peak_rss_bytes", metric{"BenchmarkColdStart", "hello-peak-rss-B"}},
	{"patch.wcu_after_100_updates_warning", metric{"BenchmarkPatch/after_100_updates_warning", "WCU/op"}},
	{"patch.local_wcu_after_100_updates", metric{"BenchmarkPatch/after_100_updates", "local-WCU/op"}},
	{"patch.rcu_after_100_updates", metric{"BenchmarkPatch/after_100_updates", "RCU/op"}},
	{"put.6mb_body_over_limit.cpu_ms", metric{"BenchmarkPut6MBBody", "over-cpu-ms/op"}},
}

// perFunction are the lines every function under -bins must have.
func perFunction(fn string) []line {
	return []line{
		{"coldstart." + fn + ".ratio_vs_hellosdk", metric{"BenchmarkColdStart", fn + "/hellosdk"}},
		{"coldstart." + fn + ".peak_rss_bytes", metric{"BenchmarkColdStart", fn + "-peak-rss-B"}},
	}
}

// perFunctionExtra follow a function's lines, when its benchmark has them.
func perFunctionExtra(fn string) []line {
	return []line{
		{"coldstart." + fn + ".ratio_vs_hellosdk_same_calls", metric{"BenchmarkColdStart", fn + "/hellosdk-same-calls"}},
		{"coldstart." + fn + ".sdk_calls", metric{"BenchmarkColdStart", fn + "-sdk-calls"}},
	}
}

// summary writes the block; hellosdk is the size of the hellosdk bootstrap
// built as those under binDir.
func summary(w io.Writer, binDir string, hellosdk int64, files []string) error {
	metrics := map[metric]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		err = parse(fh, metrics)
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	sizes, err := binarySizes(binDir)
	if err != nil {
		return err
	}
	var out []string
	var missing []string
	for _, l := range block {
		switch l.key {
		case "binary.max_bytes":
			out = append(out, fmt.Sprintf("%s %d", l.key, maxSize(sizes)))
			continue
		case "binary.max_over_hellosdk":
			out = append(out, fmt.Sprintf("%s %.3f", l.key, float64(maxSize(sizes))/float64(hellosdk)))
			continue
		}
		v, ok := metrics[l.from]
		if !ok {
			missing = append(missing, fmt.Sprintf("%s (%s %s)", l.key, l.from.bench, l.from.unit))
		}
		out = append(out, l.key+" "+v)
	}
	names := make([]string, 0, len(sizes))
	for fn := range sizes {
		names = append(names, fn)
	}
	sort.Strings(names)
	var fnLines []string
	for _, fn := range names {
		for _, l := range perFunction(fn) {
			v, ok := metrics[l.from]
			if !ok {
				missing = append(missing, fmt.Sprintf("%s (%s %s)", l.key, l.from.bench, l.from.unit))
			}
			fnLines = append(fnLines, l.key+" "+v)
		}
		for _, l := range perFunctionExtra(fn) {
			if v, ok := metrics[l.from]; ok {
				fnLines = append(fnLines, l.key+" "+v)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("no figure for %s", strings.Join(missing, ", "))
	}
	for _, l := range extra {
		if v, ok := metrics[l.from]; ok {
			out = append(out, l.key+" "+v)
		}
	}
	out = append(out, fnLines...)
	for _, fn := range names {
		out = append(out, fmt.Sprintf("binary.%s.bytes %d", fn, sizes[fn]))
	}
	out = append(out, fmt.Sprintf("binary.hellosdk.bytes %d", hellosdk))
	_, err = fmt.Fprintln(w, "== summary ==\n"+strings.Join(out, "\n"))
	return err
}

// parse reads `go test -bench` output: a result line is the benchmark's
// name, its iterations, then value-unit pairs. A benchmark reported twice
// (-count) keeps its last figures.
func parse(r io.Reader, metrics map[metric]string) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			if _, err := strconv.ParseFloat(f[i], 64); err != nil {
				return fmt.Errorf("%s: %q is not a number", f[0], f[i])
			}
			metrics[metric{name, f[i+1]}] = f[i]
		}
	}
	return sc.Err()
}

// binarySizes returns the size of each <function>/bootstrap under dir.
func binarySizes(dir string) (map[string]int64, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "bootstrap"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("no bootstraps under " + dir + " (make build)")
	}
	sizes := map[string]int64{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		sizes[filepath.Base(filepath.Dir(p))] = st.Size()
	}
	return sizes, nil
}

func maxSize(sizes map[string]int64) int64 {
	var m int64
	for _, s := range sizes {
		m = max(m, s)
	}
	return m
}
