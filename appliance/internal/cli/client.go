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

// call sends a request with body encoded as JSON (none if nil) and decodes
// the answer into out: JSON into a value, or copied into an io.Writer, or
// dropped if out is nil.
func (c *client) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	return c.do(method, path, "application/json", rd, out)
}

// upload posts raw bytes of the given content type.
func (c *client) upload(path, ctype string, body io.Reader, out any) error {
	return c.do("POST", path, ctype, body, out)
}

func (c *client) do(method, path, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequest(method, "http://firebreak/api/v1"+path, body)
	if err != nil {
		return err
	}
	if body != nil {
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
	switch out := out.(type) {
	case nil:
		return nil
	case io.Writer:
		_, err = io.Copy(out, resp.Body)
		return err
	default:
		return json.NewDecoder(resp.Body).Decode(out)
	}
}

func urlQuery(s string) string { return url.QueryEscape(s) }
