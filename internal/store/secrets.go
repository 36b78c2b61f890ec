package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gitrelay/gitrelay/internal/relay"
)

// DefaultResealBatch is the batch size ResealSecrets uses when given none.
const DefaultResealBatch = 100

// sealedColumn is a column of sealed secrets and how to name its rows'
// owners. Rows are visited in primary key order, which every tenant shares:
// key rotation is the one operation that crosses tenants.
type sealedColumn struct {
	table  string
	column string
	key    []string // primary key columns, tenant_id first
	// extra columns are part of the owner but not of the key (a user
	// token's origin); owner sees their values after the key's.
	extra []string
	owner func(values []string) string
}

var sealedColumns = []sealedColumn{
	{
		table:  "integrations",
		column: "credential_sealed",
		key:    []string{"tenant_id", "id"},
		owner:  func(k []string) string { return relay.IntegrationSecretOwner(k[0], k[1]) },
	},
	{
		table:  "user_tokens",
		column: "token_sealed",
		key:    []string{"tenant_id", "user_id", "integration_id"},
		extra:  []string{"origin"},
		owner:  func(k []string) string { return relay.UserTokenOwner(k[0], k[1], k[2], k[3]) },
	},
}

// ResealSecrets calls fn for every sealed secret of every tenant, in
// batches of at most batch rows (DefaultResealBatch when batch <= 0).
// When fn returns non-nil bytes the row is updated to them, but only if
// its sealed value is still the one fn saw (compare-and-swap): a secret
// replaced meanwhile by a user was sealed with the current key anyway.
//
// A batch is read without holding the write lock, and fn runs outside any
// transaction, so that its crypto never stalls writers; the batch's
// updates are then applied in one transaction. When fn fails, the batch
// in hand is dropped (as if its transaction rolled back) and the error is
// returned; earlier batches stay written. seen counts the secrets fn
// handled without error. Calling ResealSecrets again resumes: it visits
// every secret again, and fn returns nil for those already sealed with the
// new key.
func (db *DB) ResealSecrets(ctx context.Context, batch int, fn func(relay.SealedSecret) ([]byte, error)) (seen, updated int, err error) {
	if batch <= 0 {
		batch = DefaultResealBatch
	}
	// Every sealed column: the core's and the Jira tables'.
	for _, sc := range slices.Concat(sealedColumns, jiraSealedColumns) {
		s, u, err := db.resealColumn(ctx, sc, batch, fn)
		seen += s
		updated += u
		if err != nil {
			return seen, updated, err
		}
	}
	return seen, updated, nil
}

type sealedRow struct {
	key    []string
	extra  []string
	sealed []byte
}

type resealed struct {
	row    sealedRow
	sealed []byte
}

func (db *DB) resealColumn(ctx context.Context, sc sealedColumn, batch int, fn func(relay.SealedSecret) ([]byte, error)) (seen, updated int, err error) {
	var after []string // keyset cursor: the last key of the previous batch
	for {
		rows, err := db.readSealedBatch(ctx, sc, after, batch)
		if err != nil {
			return seen, updated, err
		}
		if len(rows) == 0 {
			return seen, updated, nil
		}
		var changes []resealed
		for _, r := range rows {
			b, err := fn(relay.SealedSecret{Owner: sc.owner(slices.Concat(r.key, r.extra)), Sealed: r.sealed})
			if err != nil {
				return seen, updated, fmt.Errorf("store: reseal %s.%s: %w", sc.table, sc.column, err)
			}
			seen++
			if b != nil {
				changes = append(changes, resealed{row: r, sealed: b})
			}
		}
		n, err := db.applyReseal(ctx, sc, changes)
		updated += n
		if err != nil {
			return seen, updated, err
		}
		if len(rows) < batch {
			return seen, updated, nil
		}
		after = rows[len(rows)-1].key
	}
}

func (db *DB) readSealedBatch(ctx context.Context, sc sealedColumn, after []string, limit int) ([]sealedRow, error) {
	keys := strings.Join(sc.key, ", ")
	query := `SELECT ` + strings.Join(slices.Concat(sc.key, sc.extra, []string{sc.column}), ", ") + ` FROM ` + sc.table
	var args []any
	if after != nil {
		// Row-value comparison: both SQLite and Postgres walk the primary
		// key index from the cursor.
		query += ` WHERE (` + keys + `) > (` + placeholders(len(sc.key)) + `)`
		for _, k := range after {
			args = append(args, k)
		}
	}
	query += ` ORDER BY ` + keys + ` LIMIT ?`
	args = append(args, limit)

	rows, err := db.reader().query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read %s for resealing: %w", sc.table, err)
	}
	defer rows.Close()
	var out []sealedRow
	for rows.Next() {
		r := sealedRow{key: make([]string, len(sc.key)), extra: make([]string, len(sc.extra))}
		dest := make([]any, 0, len(sc.key)+len(sc.extra)+1)
		for i := range r.key {
			dest = append(dest, &r.key[i])
		}
		for i := range r.extra {
			dest = append(dest, &r.extra[i])
		}
		dest = append(dest, &r.sealed)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("store: read %s for resealing: %w", sc.table, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read %s for resealing: %w", sc.table, err)
	}
	return out, nil
}

// applyReseal writes one batch's new sealed values in one transaction and
// returns how many rows changed. A row whose sealed value changed since it
// was read is left alone.
func (db *DB) applyReseal(ctx context.Context, sc sealedColumn, changes []resealed) (int, error) {
	if len(changes) == 0 {
		return 0, nil
	}
	query := `UPDATE ` + sc.table + ` SET ` + sc.column + ` = ? WHERE ` +
		strings.Join(sc.key, " = ? AND ") + ` = ? AND ` + sc.column + ` = ?`
	updated := 0
	err := db.inTx(ctx, func(c conn) error {
		updated = 0
		for _, ch := range changes {
			args := []any{ch.sealed}
			for _, k := range ch.row.key {
				args = append(args, k)
			}
			args = append(args, ch.row.sealed)
			res, err := c.exec(ctx, query, args...)
			if err != nil {
				return fmt.Errorf("store: reseal %s: %w", sc.table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("store: reseal %s: %w", sc.table, err)
			}
			updated += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return updated, nil
}

// placeholders returns "?, ?, ..." with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
