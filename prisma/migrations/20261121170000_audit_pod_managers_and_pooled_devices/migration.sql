-- AlterTable
ALTER TABLE "operation_events" ADD COLUMN     "podm_id" UUID,
ADD COLUMN     "pooled_id" UUID;

-- CreateIndex
CREATE INDEX "operation_events_podm_id_created_at_idx" ON "operation_events"("podm_id", "created_at");

-- CreateIndex
CREATE INDEX "operation_events_pooled_id_created_at_idx" ON "operation_events"("pooled_id", "created_at");

-- AddForeignKey
ALTER TABLE "operation_events" ADD CONSTRAINT "operation_events_podm_id_fkey" FOREIGN KEY ("podm_id") REFERENCES "pod_managers"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "operation_events" ADD CONSTRAINT "operation_events_pooled_id_fkey" FOREIGN KEY ("pooled_id") REFERENCES "pooled_devices"("id") ON DELETE SET NULL ON UPDATE CASCADE;

