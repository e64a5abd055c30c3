package database

import "gorm.io/gorm"

// --- 202611250005_trending ---------------------------------------------------------------
// The "For You" feed (GET /api/videos?sort=trending) ranks videos by engagement decayed by
// age. Ranking by e / 10^(age/τ) for a fixed "now" orders videos exactly as
// log10(e) + created_at/τ does, for every "now": the common factor 10^(now/τ) drops out. So the
// score needs no clock at all, and is a pure function of the row's own columns:
//
//	trending_score = log10(1 + likes + 2·comments + views/10) + epoch(created_at) / 45000
//
// τ = 45000 s (12.5 h): a video 12.5 hours newer needs a tenth of the engagement to rank
// equally, which is a half-life of about 3.8 hours. Being a stored generated column, it is
// computed by PostgreSQL on every insert and update, whoever writes (the counter triggers, a
// COPY in the seeder, a Prisma client), and no one can write it by hand. The index makes the
// feed a keyset scan on (trending_score DESC, id DESC), as cheap for the 10,000th page as for
// the first. Views count in steps of ten so that most view updates leave the score, and
// therefore the index, untouched.

const trendingScoreExpr = `log(1 + like_count + 2 * comment_count + views / 10) + extract(epoch FROM created_at) / 45000`

func addTrending(tx *gorm.DB) error {
	var n int64
	if err := tx.Raw(`SELECT count(*) FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'videos' AND column_name = 'trending_score'`).Scan(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		if err := execAll(tx, `ALTER TABLE videos ADD COLUMN trending_score double precision
			GENERATED ALWAYS AS (`+trendingScoreExpr+`) STORED`); err != nil {
			return err
		}
	}
	return execAll(tx, `CREATE INDEX IF NOT EXISTS videos_trending_score_id_idx ON videos (trending_score DESC, id DESC)`)
}

func dropTrending(tx *gorm.DB) error {
	return execAll(tx,
		`DROP INDEX IF EXISTS videos_trending_score_id_idx`,
		`ALTER TABLE videos DROP COLUMN IF EXISTS trending_score`)
}
