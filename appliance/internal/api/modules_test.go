package api

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/modhost/firstparty"
)

func TestListModules(t *testing.T) {
	rec := httptest.NewRecorder()
	require.NoError(t, listModules(nil, rec, httptest.NewRequest("GET", "/api/v1/modules", nil), auth.Caller{}))
	require.Equal(t, 200, rec.Code)
	var got []ModuleInfo
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	pkgs, _ := firstparty.Packages()
	require.Len(t, got, len(pkgs), "every embedded module is listed (none when the build did not embed them)")
	for _, m := range got {
		require.Empty(t, m.Refused, m.Name)
		require.Equal(t, "first-party", m.Signer, m.Name)
		require.NotEmpty(t, m.Techniques, m.Name)
	}
}
