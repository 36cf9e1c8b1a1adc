-- CreateEnum
CREATE TYPE "ServiceKind" AS ENUM ('COMPUTE', 'VOLUME', 'NETWORK');

-- CreateEnum
CREATE TYPE "DrainStatus" AS ENUM ('PENDING', 'MIGRATING', 'MIGRATED');

-- AlterTable
ALTER TABLE "devices" ADD COLUMN     "maintenance_seq" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "services" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "ServiceKind" NOT NULL,
    "host" TEXT NOT NULL,
    "endpoint" TEXT NOT NULL,
    "credentials_ref" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "services_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "service_devices" (
    "service_id" UUID NOT NULL,
    "device_id" UUID NOT NULL,
    "device_ref" TEXT NOT NULL,
    "driver_name" TEXT,
    "cordoned_by" TEXT,
    "cordon_reason" TEXT,
    "cordoned_at" TIMESTAMP(3),

    CONSTRAINT "service_devices_pkey" PRIMARY KEY ("service_id","device_id")
);

-- CreateTable
CREATE TABLE "workloads" (
    "id" UUID NOT NULL,
    "service_id" UUID NOT NULL,
    "external_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "device_id" UUID,
    "drain_op" TEXT,
    "drain_status" "DrainStatus",
    "drain_attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "workloads_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "services_name_key" ON "services"("name");

-- CreateIndex
CREATE UNIQUE INDEX "services_endpoint_key" ON "services"("endpoint");

-- CreateIndex
CREATE INDEX "service_devices_device_id_idx" ON "service_devices"("device_id");

-- CreateIndex
CREATE INDEX "workloads_drain_op_drain_status_idx" ON "workloads"("drain_op", "drain_status");

-- CreateIndex
CREATE INDEX "workloads_device_id_idx" ON "workloads"("device_id");

-- CreateIndex
CREATE UNIQUE INDEX "workloads_service_id_external_id_key" ON "workloads"("service_id", "external_id");

-- AddForeignKey
ALTER TABLE "service_devices" ADD CONSTRAINT "service_devices_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "service_devices" ADD CONSTRAINT "service_devices_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "service_devices" ADD CONSTRAINT "service_devices_driver_name_fkey" FOREIGN KEY ("driver_name") REFERENCES "drivers"("name") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "workloads" ADD CONSTRAINT "workloads_service_id_fkey" FOREIGN KEY ("service_id") REFERENCES "services"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "workloads" ADD CONSTRAINT "workloads_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE SET NULL ON UPDATE CASCADE;

