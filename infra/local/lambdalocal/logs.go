package lambdalocal

import (
	"bytes"
	"io"
	"sync"
)

// logSink is Options.Logs, written one whole line at a time.
type logSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *logSink) line(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(b)
}

// maxLogLine is CloudWatch Logs' largest event (256 KB): output without a
// newline is passed on in pieces of that size.
const maxLogLine = 256 << 10

// lineWriter is one output stream of a process, passed on by whole lines
// so that the lines of concurrent instances never interleave.
type lineWriter struct {
	sink *logSink
	buf  []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	start := 0
	for {
		i := bytes.IndexByte(l.buf[start:], '\n')
		if i < 0 {
			break
		}
		l.sink.line(l.buf[start : start+i+1])
		start += i + 1
	}
	l.buf = l.buf[:copy(l.buf, l.buf[start:])]
	for len(l.buf) >= maxLogLine {
		l.sink.line(append(l.buf[:maxLogLine:maxLogLine], '\n'))
		l.buf = l.buf[:copy(l.buf, l.buf[maxLogLine:])]
	}
	return len(p), nil
}

// flush passes on a last line without a newline, once the process is gone.
func (l *lineWriter) flush() {
	if len(l.buf) > 0 {
		l.sink.line(append(l.buf, '\n'))
		l.buf = nil
	}
}
