-- CreateEnum
CREATE TYPE "PooledState" AS ENUM ('FREE', 'ALLOCATED', 'VANISHED');

-- CreateTable
CREATE TABLE "pod_managers" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "credentials_ref" TEXT,
    "sync_interval_ms" INTEGER NOT NULL,
    "last_sync_at" TIMESTAMP(3),
    "last_sync_status" TEXT,
    "last_sync_result" JSONB,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "deleted_at" TIMESTAMP(3),

    CONSTRAINT "pod_managers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pooled_devices" (
    "id" UUID NOT NULL,
    "podm_id" UUID NOT NULL,
    "resource_id" TEXT NOT NULL,
    "resource_uri" TEXT NOT NULL,
    "node_id" TEXT,
    "type" TEXT NOT NULL,
    "properties" JSONB NOT NULL DEFAULT '{}',
    "pooled_group_id" TEXT,
    "state" "PooledState" NOT NULL,
    "extra" JSONB NOT NULL DEFAULT '{}',
    "locked_by" TEXT,
    "last_error" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMP(3),

    CONSTRAINT "pooled_devices_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "composed_nodes" (
    "id" UUID NOT NULL,
    "podm_id" UUID NOT NULL,
    "node_id" TEXT NOT NULL,
    "uri" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMP(3),

    CONSTRAINT "composed_nodes_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "pod_managers_name_key" ON "pod_managers"("name");

-- CreateIndex
CREATE UNIQUE INDEX "pod_managers_url_key" ON "pod_managers"("url");

-- CreateIndex
CREATE INDEX "pooled_devices_type_state_idx" ON "pooled_devices"("type", "state");

-- CreateIndex
CREATE INDEX "pooled_devices_podm_id_node_id_idx" ON "pooled_devices"("podm_id", "node_id");

-- CreateIndex
CREATE INDEX "pooled_devices_pooled_group_id_idx" ON "pooled_devices"("pooled_group_id");

-- CreateIndex
CREATE UNIQUE INDEX "pooled_devices_podm_id_resource_uri_key" ON "pooled_devices"("podm_id", "resource_uri");

-- CreateIndex
CREATE UNIQUE INDEX "composed_nodes_podm_id_node_id_key" ON "composed_nodes"("podm_id", "node_id");

-- AddForeignKey
ALTER TABLE "pooled_devices" ADD CONSTRAINT "pooled_devices_podm_id_fkey" FOREIGN KEY ("podm_id") REFERENCES "pod_managers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "composed_nodes" ADD CONSTRAINT "composed_nodes_podm_id_fkey" FOREIGN KEY ("podm_id") REFERENCES "pod_managers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

