//! `elevator.v1.DirectoryService`: put, delete, get, list and import the stored directory's
//! entities. An import is a client stream: the caller is authenticated and authorised from the
//! call's headers before any entity is read, every entity is validated as it arrives (its
//! field named by its place in the whole import), and nothing is written until the stream ends.

use prost::Message;
use tonic::{Request, Response, Status, Streaming};

use super::Api;
use super::convert;
use crate::domain::EntityType;
use crate::proto::v1 as pb;
use crate::proto::v1::directory_service_server::DirectoryService;
use crate::service::{MAX_IMPORT_ENTITIES, ServiceError};

/// The most bytes of messages one import may stream: with [`MAX_IMPORT_ENTITIES`], what bounds
/// the memory an import holds before it commits.
const MAX_IMPORT_BYTES: usize = 128 * 1024 * 1024;

#[tonic::async_trait]
impl DirectoryService for Api {
    async fn put_entity(
        &self,
        request: Request<pb::PutEntityRequest>,
    ) -> Result<Response<pb::PutEntityResponse>, Status> {
        let caller = self.writer(&request).await?;
        let message = (request.get_ref().entity.as_ref())
            .ok_or_else(|| ServiceError::invalid("entity", "is required"))?;
        let entity = convert::entity("entity.", message)?;
        let put = self.app.put_entity(&caller, entity).await?;
        Ok(Response::new(pb::PutEntityResponse {
            entity: Some(convert::directory_entity(&put.entity)),
            created: put.created,
            revision: put.revision,
        }))
    }

    async fn delete_entity(
        &self,
        request: Request<pb::DeleteEntityRequest>,
    ) -> Result<Response<pb::DeleteEntityResponse>, Status> {
        let caller = self.writer(&request).await?;
        let input = request.get_ref();
        let name = convert::entity_name("", &input.r#type, &input.id)?;
        let revision = self.app.delete_entity(&caller, name).await?;
        Ok(Response::new(pb::DeleteEntityResponse { revision }))
    }

    async fn get_entity(
        &self,
        request: Request<pb::GetEntityRequest>,
    ) -> Result<Response<pb::GetEntityResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.get_ref();
        let name = convert::entity_name("", &input.r#type, &input.id)?;
        let entity = self.app.get_entity(&caller, &name).await?;
        Ok(Response::new(pb::GetEntityResponse {
            entity: Some(convert::directory_entity(&entity)),
        }))
    }

    async fn list_entities(
        &self,
        request: Request<pb::ListEntitiesRequest>,
    ) -> Result<Response<pb::ListEntitiesResponse>, Status> {
        let caller = self.caller(&request).await?;
        let input = request.get_ref();
        let entity_type = convert::optional("type", &input.r#type, EntityType::parse)?;
        let page = self
            .app
            .list_entities(&caller, entity_type, input.page_size, &input.page_token)
            .await?;
        let (entities, next_page_token) = convert::page(page, convert::directory_entity);
        Ok(Response::new(pb::ListEntitiesResponse {
            entities,
            next_page_token,
        }))
    }

    async fn import_entities(
        &self,
        request: Request<Streaming<pb::ImportEntitiesRequest>>,
    ) -> Result<Response<pb::ImportEntitiesResponse>, Status> {
        let caller = self.writer(&request).await?;
        self.app.may_manage_directory(&caller, "ImportEntities")?;
        let mut stream = request.into_inner();
        let mut entities = Vec::new();
        let mut received_bytes = 0usize;
        while let Some(message) = stream.message().await? {
            received_bytes += message.encoded_len();
            if received_bytes > MAX_IMPORT_BYTES {
                return Err(ServiceError::invalid(
                    "entities",
                    format!(
                        "the import streams more than {MAX_IMPORT_BYTES} bytes: split the file"
                    ),
                )
                .into());
            }
            for entity in &message.entities {
                if entities.len() == MAX_IMPORT_ENTITIES {
                    return Err(ServiceError::invalid(
                        "entities",
                        format!(
                            "more than {MAX_IMPORT_ENTITIES} entities in one import: split the file"
                        ),
                    )
                    .into());
                }
                let prefix = format!("entities[{}].", entities.len());
                entities.push(convert::entity(&prefix, entity)?);
            }
        }
        let (imported, revision) = self.app.import_entities(&caller, entities).await?;
        Ok(Response::new(pb::ImportEntitiesResponse {
            imported: imported as u32,
            revision,
        }))
    }
}
