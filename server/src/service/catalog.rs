//! The Catalog service: spaces, stores and indexes.

use shinydb_engine::{IndexInfo, StoreInfo};
use shinydb_proto::v1::{
    self, CreateIndexRequest, CreateIndexResponse, CreateSpaceRequest, CreateSpaceResponse,
    CreateStoreRequest, CreateStoreResponse, DropIndexRequest, DropIndexResponse, DropSpaceRequest,
    DropSpaceResponse, DropStoreRequest, DropStoreResponse, ListIndexesRequest,
    ListIndexesResponse, ListSpacesRequest, ListSpacesResponse, ListStoresRequest,
    ListStoresResponse, StoreStatsRequest, StoreStatsResponse, catalog_server,
};
use tonic::{Request, Response, Status};

use super::convert::target;
use crate::{auth::Access, error::engine_status, state::State};

fn store_to(s: &StoreInfo) -> v1::Store {
    v1::Store {
        space: s.space.clone(),
        name: s.name.clone(),
        created_at_ms: s.created_at_ms,
    }
}

fn index_to(i: &IndexInfo) -> v1::Index {
    v1::Index {
        name: i.name.clone(),
        fields: i.fields.clone(),
        unique: i.unique,
        ready: i.ready,
    }
}

fn named(name: &str, what: &str) -> Result<(), Status> {
    if name.is_empty() {
        Err(Status::invalid_argument(format!("{what} is missing")))
    } else {
        Ok(())
    }
}

/// The gRPC Catalog service.
pub struct CatalogService {
    state: State,
}

impl CatalogService {
    /// The service over shared state.
    pub fn new(state: State) -> Self {
        CatalogService { state }
    }
}

#[tonic::async_trait]
impl catalog_server::Catalog for CatalogService {
    async fn create_space(
        &self,
        req: Request<CreateSpaceRequest>,
    ) -> Result<Response<CreateSpaceResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/CreateSpace", req, |p, r| async move {
            named(&r.name, "name")?;
            p.require(Access::Admin, None)?;
            s.write(move |db| db.create_space(&r.name)).await?;
            Ok(CreateSpaceResponse {})
        })
        .await
    }

    async fn drop_space(
        &self,
        req: Request<DropSpaceRequest>,
    ) -> Result<Response<DropSpaceResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/DropSpace", req, |p, r| async move {
            named(&r.name, "name")?;
            p.require(Access::Admin, Some(&r.name))?;
            p.require(Access::Admin, None)?;
            s.write(move |db| db.drop_space(&r.name, r.cascade)).await?;
            Ok(DropSpaceResponse {})
        })
        .await
    }

    async fn list_spaces(
        &self,
        req: Request<ListSpacesRequest>,
    ) -> Result<Response<ListSpacesResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/ListSpaces", req, |p, _r| async move {
            let spaces =
                s.db.snapshot()
                    .spaces()
                    .into_iter()
                    .filter(|sp| p.allows(Access::Read, Some(&sp.name)))
                    .map(|sp| v1::Space {
                        name: sp.name,
                        created_at_ms: sp.created_at_ms,
                    })
                    .collect();
            Ok(ListSpacesResponse { spaces })
        })
        .await
    }

    async fn create_store(
        &self,
        req: Request<CreateStoreRequest>,
    ) -> Result<Response<CreateStoreResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/CreateStore", req, |p, r| async move {
            target(&r.space, &r.name)?;
            p.require(Access::Admin, Some(&r.space))?;
            s.write(move |db| db.create_store(&r.space, &r.name))
                .await?;
            Ok(CreateStoreResponse {})
        })
        .await
    }

    async fn drop_store(
        &self,
        req: Request<DropStoreRequest>,
    ) -> Result<Response<DropStoreResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/DropStore", req, |p, r| async move {
            target(&r.space, &r.name)?;
            p.require(Access::Admin, Some(&r.space))?;
            s.write(move |db| db.drop_store(&r.space, &r.name)).await?;
            Ok(DropStoreResponse {})
        })
        .await
    }

    async fn list_stores(
        &self,
        req: Request<ListStoresRequest>,
    ) -> Result<Response<ListStoresResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/ListStores", req, |p, r| async move {
            named(&r.space, "space")?;
            p.require(Access::Read, Some(&r.space))?;
            let stores = s.db.snapshot().stores(&r.space).map_err(engine_status)?;
            Ok(ListStoresResponse {
                stores: stores.iter().map(store_to).collect(),
            })
        })
        .await
    }

    async fn create_index(
        &self,
        req: Request<CreateIndexRequest>,
    ) -> Result<Response<CreateIndexResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/CreateIndex", req, |p, r| async move {
            target(&r.space, &r.store)?;
            named(&r.name, "name")?;
            if r.fields.is_empty() {
                return Err(Status::invalid_argument(
                    "an index needs at least one field",
                ));
            }
            p.require(Access::Admin, Some(&r.space))?;
            s.write(move |db| {
                let fields: Vec<&str> = r.fields.iter().map(String::as_str).collect();
                db.create_index(&r.space, &r.store, &r.name, &fields, r.unique)
            })
            .await?;
            Ok(CreateIndexResponse {})
        })
        .await
    }

    async fn drop_index(
        &self,
        req: Request<DropIndexRequest>,
    ) -> Result<Response<DropIndexResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/DropIndex", req, |p, r| async move {
            target(&r.space, &r.store)?;
            named(&r.name, "name")?;
            p.require(Access::Admin, Some(&r.space))?;
            s.write(move |db| db.drop_index(&r.space, &r.store, &r.name))
                .await?;
            Ok(DropIndexResponse {})
        })
        .await
    }

    async fn list_indexes(
        &self,
        req: Request<ListIndexesRequest>,
    ) -> Result<Response<ListIndexesResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/ListIndexes", req, |p, r| async move {
            target(&r.space, &r.store)?;
            p.require(Access::Read, Some(&r.space))?;
            let store =
                s.db.snapshot()
                    .store(&r.space, &r.store)
                    .map_err(engine_status)?;
            Ok(ListIndexesResponse {
                indexes: store.indexes.iter().map(index_to).collect(),
            })
        })
        .await
    }

    async fn store_stats(
        &self,
        req: Request<StoreStatsRequest>,
    ) -> Result<Response<StoreStatsResponse>, Status> {
        let s = &self.state;
        s.unary("Catalog/StoreStats", req, |p, r| async move {
            target(&r.space, &r.store)?;
            p.require(Access::Read, Some(&r.space))?;
            let snap = s.db.snapshot();
            let store = snap.store(&r.space, &r.store).map_err(engine_status)?;
            let documents = snap.count(&r.space, &r.store).map_err(engine_status)?;
            Ok(StoreStatsResponse {
                store: Some(store_to(&store)),
                documents,
                indexes: store.indexes.iter().map(index_to).collect(),
            })
        })
        .await
    }
}
