package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/api"
	"github.com/firebreak-ir/firebreak/appliance/internal/datadir"
)

// client calls the daemon's API on its Unix socket.
type client struct {
	socket   string
	engineer string
	http     *http.Client
}

func (f *flags) client() *client {
	sock := datadir.SocketPath(f.dataDir())
	eng := f.engineer
	if eng == "" {
		eng = f.e.getenv("FIREBREAK_ENGINEER")
	}
	return &client{
		socket:   sock,
		engineer: eng,
		http: &http.Client{
			Timeout: 5 * time.Minute,
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", sock)
				},
			},
		},
	}
}

// call sends a request with body (JSON-encoded unless it is an io.Reader)
// and decodes the answer into out, unless out is nil.
func (c *client) call(method, path string, body, out any) error {
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd, ctype = b, "text/csv"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, "http://firebreak/api/v1"+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if c.engineer != "" {
		req.Header.Set(api.EngineerHeader, c.engineer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Op == "dial" {
			return fmt.Errorf("cannot reach the firebreak daemon at %s (is 'firebreak serve' running on this data directory?)", c.socket)
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e api.Error
		if json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&e) != nil || e.Message == "" {
			return fmt.Errorf("daemon answered %s", resp.Status)
		}
		return &e
	}
	if out == nil {
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func urlQuery(s string) string { return url.QueryEscape(s) }
