CREATE TYPE "public"."participant_kind" AS ENUM('technician', 'recorder');--> statement-breakpoint
CREATE TABLE "session_participants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"user_id" uuid,
	"kind" "participant_kind" DEFAULT 'technician' NOT NULL,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	"admitted_at" timestamp with time zone,
	"left_at" timestamp with time zone,
	"left_reason" text,
	"connected" boolean DEFAULT false NOT NULL,
	"peer" text,
	"seen_at" timestamp with time zone,
	"control_requested_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "controller_id" uuid;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "participants_version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "agent_seen_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "session_participants" ADD CONSTRAINT "session_participants_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_participants" ADD CONSTRAINT "session_participants_session_id_remote_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."remote_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_participants" ADD CONSTRAINT "session_participants_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "session_participants_session_idx" ON "session_participants" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "session_participants_user_open_idx" ON "session_participants" USING btree ("user_id") WHERE "session_participants"."left_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "session_participants_session_user_open_key" ON "session_participants" USING btree ("session_id","user_id") WHERE "session_participants"."left_at" is null;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD CONSTRAINT "remote_sessions_controller_id_session_participants_id_fk" FOREIGN KEY ("controller_id") REFERENCES "public"."session_participants"("id") ON DELETE no action ON UPDATE no action;