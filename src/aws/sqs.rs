//! Amazon SQS: the queue an EventBridge rule fills with AWS's events (`[events]`).
//! ReceiveMessage with long polling, DeleteMessageBatch once a batch is handled (one call
//! instead of ten), and
//! GetQueueAttributes for `warroom doctor`. The SDK speaks AWS JSON 1.0 to SQS.

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
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

/// Delete up to 10 handled messages in one call (IAM: `sqs:DeleteMessage`); the receipt
/// handles SQS refused, each with its reason.
pub(super) async fn delete_batch(
    client: &Client,
    queue_url: &str,
    receipt_handles: &[&str],
) -> Result<Vec<(String, String)>, AwsError> {
    let entries = receipt_handles
        .iter()
        .enumerate()
        .map(|(i, handle)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(*handle)
                .build()
                .map_err(|e| AwsError::Transport {
                    operation: "DeleteMessageBatch",
                    detail: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let out = client
        .delete_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| sdk_error("DeleteMessageBatch", e))?;
    Ok(out
        .failed()
        .iter()
        .map(|f| {
            let handle = f
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| receipt_handles.get(i))
                .map_or_else(String::new, |h| (*h).to_string());
            (handle, f.code().to_string())
        })
        .collect())
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
