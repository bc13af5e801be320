package cli

import (
	"io"
	"log/slog"
	"os/user"
	"strconv"
	"testing"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func currentUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}
