package database

import "gorm.io/gorm"

// --- 202611250006_follows_lock_order ---------------------------------------------------
// count_follows() updated both users of a follow with one UPDATE, expecting the rows to be
// locked in index order. A sequential scan (the planner's choice on a small table) visits them
// in heap order instead, so "A follows B" racing "B unfollows A" could lock A,B and B,A and
// deadlock (seen in TestCountersStayExactUnderConcurrentPlainSQL). The new version locks the
// users in id order first; the UPDATE then only touches rows it already holds.
// (ID 0006: 0005 is taken by the videos feature's migration on its branch.)

const countFollowsLockOrdered = `
CREATE OR REPLACE FUNCTION count_follows() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP = 'INSERT' THEN
		PERFORM 1 FROM users WHERE id IN (NEW.follower_id, NEW.following_id) ORDER BY id FOR NO KEY UPDATE;
	ELSIF TG_OP = 'DELETE' THEN
		PERFORM 1 FROM users WHERE id IN (OLD.follower_id, OLD.following_id) ORDER BY id FOR NO KEY UPDATE;
	ELSE
		PERFORM 1 FROM users WHERE id IN (OLD.follower_id, OLD.following_id, NEW.follower_id, NEW.following_id)
			ORDER BY id FOR NO KEY UPDATE;
	END IF;
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE users SET
			following_count = following_count - (id = OLD.follower_id)::int,
			follower_count = follower_count - (id = OLD.following_id)::int
		WHERE id IN (OLD.follower_id, OLD.following_id);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		UPDATE users SET
			following_count = following_count + (id = NEW.follower_id)::int,
			follower_count = follower_count + (id = NEW.following_id)::int
		WHERE id IN (NEW.follower_id, NEW.following_id);
	END IF;
	RETURN NULL;
END
$fn$;
`

// countFollowsUnordered is count_follows() as 202611250002_counters created it, restored by
// the rollback.
const countFollowsUnordered = `
CREATE OR REPLACE FUNCTION count_follows() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
	IF TG_OP IN ('DELETE', 'UPDATE') THEN
		UPDATE users SET
			following_count = following_count - (id = OLD.follower_id)::int,
			follower_count = follower_count - (id = OLD.following_id)::int
		WHERE id IN (OLD.follower_id, OLD.following_id);
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		UPDATE users SET
			following_count = following_count + (id = NEW.follower_id)::int,
			follower_count = follower_count + (id = NEW.following_id)::int
		WHERE id IN (NEW.follower_id, NEW.following_id);
	END IF;
	RETURN NULL;
END
$fn$;
`

func orderFollowLocks(tx *gorm.DB) error   { return execAll(tx, countFollowsLockOrdered) }
func unorderFollowLocks(tx *gorm.DB) error { return execAll(tx, countFollowsUnordered) }
