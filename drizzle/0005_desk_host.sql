ALTER TYPE "public"."participant_kind" ADD VALUE 'candidate';--> statement-breakpoint
ALTER TABLE "desks" ALTER COLUMN "created_by" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "clipboard_policy" jsonb;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "desk_id" uuid;--> statement-breakpoint
ALTER TABLE "desks" ADD COLUMN "pooled" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "desk_id" uuid;--> statement-breakpoint
ALTER TABLE "session_participants" ADD COLUMN "desk_link_id" uuid;--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_desk_id_desks_id_fk" FOREIGN KEY ("desk_id") REFERENCES "public"."desks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD CONSTRAINT "remote_sessions_desk_id_desks_id_fk" FOREIGN KEY ("desk_id") REFERENCES "public"."desks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_participants" ADD CONSTRAINT "session_participants_desk_link_id_desk_links_id_fk" FOREIGN KEY ("desk_link_id") REFERENCES "public"."desk_links"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "desks_pool_idx" ON "desks" USING btree ("tenant_id","template_name") WHERE "desks"."pooled";