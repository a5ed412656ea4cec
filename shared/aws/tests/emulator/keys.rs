//! Customer keys on DynamoDB + KMS, what is particular to them: the item holds only KMS
//! ciphertext, bound to its customer and key id. Making, finding, concurrency and forgetting
//! are the contract suite in `order-testkit`, run on this store too.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use order_aws::DynamoKeys;
use order_domain::CustomerId;
use order_domain::ports::KeyStore;
use order_testkit::emulator_or_skip;
use order_testkit::support::Emulator;

fn store(env: &Emulator) -> DynamoKeys {
    DynamoKeys::new(
        env.clients.dynamodb().clone(),
        env.clients.kms().clone(),
        &env.resources.customer_keys_table,
        &env.resources.kms_key_id,
    )
}

async fn item_of(env: &Emulator, customer: &str) -> HashMap<String, AttributeValue> {
    env.clients
        .dynamodb()
        .get_item()
        .table_name(&env.resources.customer_keys_table)
        .key("customerId", AttributeValue::S(customer.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_table_holds_only_kms_ciphertext_bound_to_its_customer() {
    let env = emulator_or_skip!("the_table_holds_only_kms_ciphertext_bound_to_its_customer");
    let keys = store(&env);
    let jane = CustomerId::parse("jane").unwrap();
    let key = keys.current_key(&jane).await.unwrap();

    let item = item_of(&env, "jane").await;
    assert_eq!(item["keyId"].as_s().unwrap(), &key.id);
    assert!(item["createdAt"].as_n().unwrap().parse::<u64>().unwrap() > 0);
    let wrapped = item["wrappedKey"].as_b().unwrap().as_ref().to_vec();
    assert!(wrapped.len() > 32, "a KMS CiphertextBlob, not a bare key");
    assert!(
        !contains(&wrapped, &key.material),
        "the key is stored in clear"
    );

    // Jane's ciphertext in John's item: KMS refuses it (the encryption context differs), so
    // it is an error, not Jane's key handed to John.
    let mut moved = item.clone();
    moved.insert("customerId".into(), AttributeValue::S("john".into()));
    env.clients
        .dynamodb()
        .put_item()
        .table_name(&env.resources.customer_keys_table)
        .set_item(Some(moved))
        .send()
        .await
        .unwrap();
    let john = CustomerId::parse("john").unwrap();
    assert!(keys.find_key(&john, &key.id).await.is_err());
}

#[tokio::test]
async fn forget_deletes_the_item() {
    let env = emulator_or_skip!("forget_deletes_the_item");
    let keys = store(&env);
    let jane = CustomerId::parse("jane").unwrap();
    keys.current_key(&jane).await.unwrap();
    assert_eq!(keys.forget(&jane).await.unwrap(), 1);
    let out = env
        .clients
        .dynamodb()
        .get_item()
        .table_name(&env.resources.customer_keys_table)
        .key("customerId", AttributeValue::S("jane".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert!(out.item.is_none());
}
