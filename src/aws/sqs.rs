//! Amazon SQS: the queue an EventBridge rule fills with AWS's events (`[events]`).
//! ReceiveMessage with long polling, DeleteMessage once a message is handled, and
//! GetQueueAttributes for `warroom doctor`. The SDK speaks AWS JSON 1.0 to SQS.

use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;

use super::{sdk_error, AwsError};

/// One received message: its body, and the receipt handle that deletes it.
#[derive(Debug, Clone)]
pub struct QueueMessage {
    /// SQS's id; the same on every delivery of the message (logged, never the body).
    pub message_id: String,
    /// How many times SQS has handed the message out (1 on the first delivery).
    pub receive_count: u32,
    pub body: String,
    pub receipt_handle: String,
}

pub(super) async fn receive(
    client: &Client,
    queue_url: &str,
    wait_secs: i32,
    max: i32,
) -> Result<Vec<QueueMessage>, AwsError> {
    let out = client
        .receive_message()
        .queue_url(queue_url)
        .wait_time_seconds(wait_secs)
        .max_number_of_messages(max)
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
        )
        .send()
        .await
        .map_err(|e| sdk_error("ReceiveMessage", e))?;
    Ok(out
        .messages()
        .iter()
        .filter_map(|m| {
            let receive_count = m
                .attributes()
                .and_then(|a| {
                    a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
                })
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            Some(QueueMessage {
                message_id: m.message_id()?.to_string(),
                receive_count,
                body: m.body().unwrap_or_default().to_string(),
                receipt_handle: m.receipt_handle()?.to_string(),
            })
        })
        .collect())
}

pub(super) async fn delete(
    client: &Client,
    queue_url: &str,
    receipt_handle: &str,
) -> Result<(), AwsError> {
    client
        .delete_message()
        .queue_url(queue_url)
        .receipt_handle(receipt_handle)
        .send()
        .await
        .map_err(|e| sdk_error("DeleteMessage", e))?;
    Ok(())
}

/// The queue's approximate depth, for `warroom doctor` (proves the queue exists and the
/// credentials may read it).
pub(super) async fn depth(client: &Client, queue_url: &str) -> Result<u64, AwsError> {
    let out = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| sdk_error("GetQueueAttributes", e))?;
    Ok(out
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}
