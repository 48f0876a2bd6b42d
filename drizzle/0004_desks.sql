CREATE TYPE "public"."desk_state" AS ENUM('pending', 'provisioning', 'ready', 'active', 'expiring', 'terminated', 'error');--> statement-breakpoint
CREATE TABLE "desk_links" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"desk_id" uuid NOT NULL,
	"tenant_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"pin_hash" text,
	"holder" text,
	"held_at" timestamp with time zone,
	"failed_pin_attempts" integer DEFAULT 0 NOT NULL,
	"locked_until" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "desks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"template_name" text NOT NULL,
	"template" jsonb NOT NULL,
	"candidate_label" text NOT NULL,
	"state" "desk_state" DEFAULT 'pending' NOT NULL,
	"state_reason" text,
	"created_by" uuid NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"provider_ref" text,
	"session_id" uuid
);
--> statement-breakpoint
ALTER TABLE "desk_links" ADD CONSTRAINT "desk_links_desk_id_desks_id_fk" FOREIGN KEY ("desk_id") REFERENCES "public"."desks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desk_links" ADD CONSTRAINT "desk_links_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desks" ADD CONSTRAINT "desks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desks" ADD CONSTRAINT "desks_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "desks" ADD CONSTRAINT "desks_session_id_remote_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."remote_sessions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "desk_links_token_hash_key" ON "desk_links" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "desk_links_desk_idx" ON "desk_links" USING btree ("desk_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "desk_links_desk_live_key" ON "desk_links" USING btree ("desk_id") WHERE "desk_links"."revoked_at" is null;--> statement-breakpoint
CREATE INDEX "desks_tenant_created_idx" ON "desks" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "desks_tenant_state_idx" ON "desks" USING btree ("tenant_id","state","created_at");--> statement-breakpoint
CREATE INDEX "desks_live_expires_idx" ON "desks" USING btree ("expires_at") WHERE "desks"."state" not in ('terminated', 'error');