CREATE TYPE "public"."recording_policy" AS ENUM('never', 'always', 'choice');--> statement-breakpoint
CREATE TYPE "public"."recording_state" AS ENUM('recording', 'complete', 'incomplete', 'failed', 'deleted');--> statement-breakpoint
CREATE TABLE "audit_heads" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL,
	"key_id" text NOT NULL,
	"signature" text NOT NULL,
	"signed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_signing_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"public_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recording_segments" (
	"recording_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"start_ms" integer NOT NULL,
	"duration_ms" integer NOT NULL,
	"gap_before_ms" integer DEFAULT 0 NOT NULL,
	"bytes" integer NOT NULL,
	"sha256" text NOT NULL,
	"keyframe" boolean NOT NULL,
	"activity" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recordings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"participant_id" uuid,
	"state" "recording_state" DEFAULT 'recording' NOT NULL,
	"stop_reason" text,
	"started_by" uuid,
	"codec" text,
	"storage" text NOT NULL,
	"storage_prefix" text NOT NULL,
	"wrapped_key" text NOT NULL,
	"holder" text,
	"held_at" timestamp with time zone,
	"stop_requested_at" timestamp with time zone,
	"stop_requested_by" uuid,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"duration_ms" integer DEFAULT 0 NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"segment_count" integer DEFAULT 0 NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "recording_policy" "recording_policy" DEFAULT 'choice' NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "recording_retention_days" integer DEFAULT 30 NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_heads" ADD CONSTRAINT "audit_heads_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_heads" ADD CONSTRAINT "audit_heads_key_id_audit_signing_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."audit_signing_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recording_segments" ADD CONSTRAINT "recording_segments_recording_id_recordings_id_fk" FOREIGN KEY ("recording_id") REFERENCES "public"."recordings"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recording_segments" ADD CONSTRAINT "recording_segments_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_session_id_remote_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."remote_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_participant_id_session_participants_id_fk" FOREIGN KEY ("participant_id") REFERENCES "public"."session_participants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_started_by_users_id_fk" FOREIGN KEY ("started_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "recordings" ADD CONSTRAINT "recordings_stop_requested_by_users_id_fk" FOREIGN KEY ("stop_requested_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_heads_tenant_seq_key" ON "audit_heads" USING btree ("tenant_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "recording_segments_recording_seq_key" ON "recording_segments" USING btree ("recording_id","seq");--> statement-breakpoint
CREATE INDEX "recordings_tenant_started_idx" ON "recordings" USING btree ("tenant_id","started_at");--> statement-breakpoint
CREATE INDEX "recordings_session_idx" ON "recordings" USING btree ("session_id");--> statement-breakpoint
CREATE UNIQUE INDEX "recordings_session_live_key" ON "recordings" USING btree ("session_id") WHERE "recordings"."state" = 'recording';--> statement-breakpoint
-- Signed heads are evidence like the chain itself: the database refuses to change or remove them.
CREATE TRIGGER audit_heads_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_heads
  FOR EACH ROW EXECUTE FUNCTION session_events_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_heads_no_truncate
  BEFORE TRUNCATE ON audit_heads
  FOR EACH STATEMENT EXECUTE FUNCTION session_events_refuse_change();
--> statement-breakpoint
-- A signing key once registered stays what it was: replacing one would let forged heads verify.
CREATE TRIGGER audit_signing_keys_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_signing_keys
  FOR EACH ROW EXECUTE FUNCTION session_events_refuse_change();
--> statement-breakpoint
CREATE TRIGGER audit_signing_keys_no_truncate
  BEFORE TRUNCATE ON audit_signing_keys
  FOR EACH STATEMENT EXECUTE FUNCTION session_events_refuse_change();
