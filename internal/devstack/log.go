package devstack

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// prefixWriter writes each line to out prefixed with the service name, like docker compose logs.
func prefixWriter(out io.Writer, name string) io.Writer {
	if out == nil {
		return io.Discard
	}
	return &prefixed{out: out, prefix: fmt.Sprintf("%-8s| ", name)}
}

type prefixed struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
	buf    bytes.Buffer
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	for {
		line, err := p.buf.ReadBytes('\n')
		if err != nil {
			p.buf.Write(line) // keep the partial line for the next write
			return len(b), nil
		}
		if _, err := fmt.Fprintf(p.out, "%s%s", p.prefix, line); err != nil {
			return 0, err
		}
	}
}
