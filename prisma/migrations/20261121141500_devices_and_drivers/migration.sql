-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "DeviceType" AS ENUM ('SERVER', 'HYPERVISOR', 'STORAGE', 'NETWORK', 'ACCELERATOR');

-- CreateEnum
CREATE TYPE "DeviceState" AS ENUM ('ENROLLED', 'VERIFYING', 'ACTIVE', 'VERIFY_FAILED', 'ABANDONED', 'DRAINING', 'DRAIN_FAILED', 'MAINTENANCE', 'RESUMING', 'DELETING');

-- CreateTable
CREATE TABLE "drivers" (
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "device_types" "DeviceType"[],
    "vendors" TEXT[],
    "models" TEXT[],
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "drivers_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "devices" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "type" "DeviceType" NOT NULL,
    "vendor" TEXT NOT NULL,
    "model" TEXT,
    "endpoint" TEXT NOT NULL,
    "credentials_ref" TEXT,
    "driver_name" TEXT,
    "state" "DeviceState" NOT NULL DEFAULT 'ENROLLED',
    "maintenance_reason" TEXT,
    "capabilities" JSONB NOT NULL DEFAULT '{}',
    "capacity" JSONB NOT NULL DEFAULT '{}',
    "last_error" TEXT,
    "locked_by" TEXT,
    "locked_at" TIMESTAMP(3),
    "verified_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "devices_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "operation_events" (
    "id" BIGSERIAL NOT NULL,
    "device_id" UUID,
    "workflow_id" TEXT,
    "operation" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "from_state" TEXT,
    "to_state" TEXT,
    "outcome" TEXT,
    "message" TEXT,
    "details" JSONB,
    "idempotency_key" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "operation_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "devices_name_key" ON "devices"("name");

-- CreateIndex
CREATE UNIQUE INDEX "devices_endpoint_key" ON "devices"("endpoint");

-- CreateIndex
CREATE INDEX "devices_state_idx" ON "devices"("state");

-- CreateIndex
CREATE INDEX "devices_type_vendor_idx" ON "devices"("type", "vendor");

-- CreateIndex
CREATE UNIQUE INDEX "operation_events_idempotency_key_key" ON "operation_events"("idempotency_key");

-- CreateIndex
CREATE INDEX "operation_events_device_id_created_at_idx" ON "operation_events"("device_id", "created_at");

-- CreateIndex
CREATE INDEX "operation_events_workflow_id_idx" ON "operation_events"("workflow_id");

-- AddForeignKey
ALTER TABLE "devices" ADD CONSTRAINT "devices_driver_name_fkey" FOREIGN KEY ("driver_name") REFERENCES "drivers"("name") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "operation_events" ADD CONSTRAINT "operation_events_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE SET NULL ON UPDATE CASCADE;

