//! Customer keys on DynamoDB + KMS, what is particular to them: a customer's item holds their
//! key wrapped under the stack's wrapping key, which is itself KMS ciphertext in the table and
//! costs one KMS call per container; keys KMS wrapped before the stack had a wrapping key
//! still open. Making, finding, concurrency, the wrapped form and forgetting are the contract
//! suite in `order-testkit`, run on this store too.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_kms::config::{ConfigBag, Intercept};
use aws_sdk_kms::error::BoxError;
use aws_sdk_kms::types::DataKeySpec;
use order_app::vault;
use order_aws::{DynamoKeys, WRAPPING_KEY_ITEM};
use order_domain::personal::{Opened, Personal, PersonalData};
use order_domain::ports::KeyStore;
use order_domain::{CustomerId, Email, OrderId, PaymentToken};
use order_testkit::emulator_or_skip;
use order_testkit::support::Emulator;

fn store(env: &Emulator) -> DynamoKeys {
    store_with(env, env.clients.kms().clone())
}

fn store_with(env: &Emulator, kms: aws_sdk_kms::Client) -> DynamoKeys {
    DynamoKeys::new(
        env.clients.dynamodb().clone(),
        kms,
        &env.resources.customer_keys_table,
        &env.resources.kms_key_id,
    )
}

/// Counts the KMS requests a client makes, by operation.
#[derive(Debug, Default, Clone)]
struct KmsCalls {
    generate: Arc<AtomicUsize>,
    decrypt: Arc<AtomicUsize>,
    other: Arc<AtomicUsize>,
}

impl KmsCalls {
    fn counts(&self) -> (usize, usize, usize) {
        let n = |c: &AtomicUsize| c.load(Ordering::SeqCst);
        (n(&self.generate), n(&self.decrypt), n(&self.other))
    }
}

impl Intercept for KmsCalls {
    fn name(&self) -> &'static str {
        "KmsCalls"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_kms::operation::{
            decrypt::DecryptInput, generate_data_key::GenerateDataKeyInput,
        };
        let input = context.input();
        let counter = if input.downcast_ref::<GenerateDataKeyInput>().is_some() {
            &self.generate
        } else if input.downcast_ref::<DecryptInput>().is_some() {
            &self.decrypt
        } else {
            &self.other
        };
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A store as one container has it, its KMS requests counted.
fn counted_store(env: &Emulator) -> (DynamoKeys, KmsCalls) {
    let calls = KmsCalls::default();
    let config = env
        .clients
        .kms()
        .config()
        .to_builder()
        .interceptor(calls.clone())
        .build();
    (
        store_with(env, aws_sdk_kms::Client::from_conf(config)),
        calls,
    )
}

async fn item_of(env: &Emulator, customer: &str) -> Option<HashMap<String, AttributeValue>> {
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
}

fn customer(name: &str) -> CustomerId {
    CustomerId::parse(name).unwrap()
}

#[tokio::test]
async fn a_customers_item_holds_their_key_wrapped_by_the_stacks_wrapping_key() {
    let env =
        emulator_or_skip!("a_customers_item_holds_their_key_wrapped_by_the_stacks_wrapping_key");
    let keys = store(&env);
    let key = keys.current_key(&customer("jane")).await.unwrap();

    let item = item_of(&env, "jane").await.unwrap();
    let stack = item_of(&env, WRAPPING_KEY_ITEM)
        .await
        .expect("the wrapping key's item");
    assert_eq!(item["keyId"].as_s().unwrap(), &key.id);
    assert!(item["createdAt"].as_n().unwrap().parse::<u64>().unwrap() > 0);
    assert_eq!(
        item["wrappedBy"].as_s().unwrap(),
        stack["keyId"].as_s().unwrap()
    );
    assert_eq!(
        item["wrappedKey"].as_b().unwrap().as_ref().len(),
        vault::wrap::WRAPPED_LEN
    );
    assert!(
        stack["wrappedKey"].as_b().unwrap().as_ref().len() > 32,
        "the wrapping key is KMS ciphertext, not a bare key"
    );
    assert!(
        CustomerId::parse(WRAPPING_KEY_ITEM).is_err(),
        "no customer can name the wrapping key's item, so no forget reaches it"
    );
    assert_eq!(keys.forget(&customer("jane")).await.unwrap(), 1);
    assert!(item_of(&env, WRAPPING_KEY_ITEM).await.is_some());

    // A key that names another wrapping key is an error, not a key.
    let mut other = item.clone();
    other.insert("wrappedBy".into(), AttributeValue::S("another".into()));
    put(&env, other).await;
    assert!(keys.find_key(&customer("jane"), &key.id).await.is_err());
}

#[tokio::test]
async fn keys_cost_one_kms_call_per_container_not_one_per_open() {
    let env = emulator_or_skip!("keys_cost_one_kms_call_per_container_not_one_per_open");
    let customers: Vec<CustomerId> = (0..5).map(|i| customer(&format!("c{i}"))).collect();

    // The first container ever: it makes the wrapping key (one GenerateDataKey) and wraps
    // every new customer's key under it.
    let (first, calls) = counted_store(&env);
    let mut made = Vec::new();
    for c in &customers {
        made.push(first.current_key(c).await.unwrap());
        first.current_key(c).await.unwrap();
    }
    assert_eq!(
        calls.counts(),
        (1, 0, 0),
        "(GenerateDataKey, Decrypt, other)"
    );

    // Another container: one Decrypt of the wrapping key opens every customer's key.
    let (second, calls) = counted_store(&env);
    for (c, key) in customers.iter().zip(&made) {
        assert_eq!(
            second.find_key(c, &key.id).await.unwrap().as_ref(),
            Some(key)
        );
        assert_eq!(&second.current_key(c).await.unwrap(), key);
    }
    let newcomer = second.current_key(&customer("newcomer")).await.unwrap();
    assert_eq!(
        calls.counts(),
        (0, 1, 0),
        "(GenerateDataKey, Decrypt, other)"
    );
    let found = first.find_key(&customer("newcomer"), &newcomer.id).await;
    assert_eq!(found.unwrap(), Some(newcomer));
}

#[tokio::test]
async fn a_key_kms_wrapped_before_the_wrapping_key_still_opens() {
    let env = emulator_or_skip!("a_key_kms_wrapped_before_the_wrapping_key_still_opens");
    // An item as the store wrote it before it had a wrapping key: KMS ciphertext bound to the
    // customer and key id, and no `wrappedBy`.
    let key_id = ulid::Ulid::generate().to_string();
    let made = env
        .clients
        .kms()
        .generate_data_key()
        .key_id(&env.resources.kms_key_id)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("customerId", "jane")
        .encryption_context("keyId", &key_id)
        .send()
        .await
        .unwrap();
    let material: [u8; 32] = made.plaintext.unwrap().as_ref().try_into().unwrap();
    let blob = made.ciphertext_blob.unwrap().into_inner();
    let mut item = HashMap::new();
    item.insert("customerId".into(), AttributeValue::S("jane".into()));
    item.insert("keyId".into(), AttributeValue::S(key_id.clone()));
    item.insert("wrappedKey".into(), AttributeValue::B(Blob::new(blob)));
    item.insert("createdAt".into(), AttributeValue::N("1".into()));
    put(&env, item.clone()).await;

    let (keys, calls) = counted_store(&env);
    let jane = customer("jane");
    let found = keys.find_key(&jane, &key_id).await.unwrap().expect("found");
    assert_eq!(found.material, material);
    assert_eq!(keys.current_key(&jane).await.unwrap(), found);
    assert_eq!(
        calls.counts(),
        (0, 2, 0),
        "a KMS Decrypt per open, as before"
    );

    // What was sealed under it opens, and forgetting erases it as before.
    let order = OrderId::generate();
    let data = PersonalData {
        email: Email::parse("jane@example.com").unwrap(),
        payment_token: PaymentToken::parse("tok_visa").unwrap(),
    };
    let sealed = Personal::Sealed(vault::seal(&keys, &jane, order, &data).await.unwrap());
    let opened = vault::open(&keys, &jane, order, &sealed).await.unwrap();
    assert_eq!(opened, Opened::Data(data));
    assert_eq!(keys.forget(&jane).await.unwrap(), 1);
    let opened = vault::open(&keys, &jane, order, &sealed).await.unwrap();
    assert_eq!(opened, Opened::Erased);

    // Moved to another customer, KMS refuses it (the encryption context differs).
    item.insert("customerId".into(), AttributeValue::S("john".into()));
    put(&env, item).await;
    assert!(keys.find_key(&customer("john"), &key_id).await.is_err());
}

async fn put(env: &Emulator, item: HashMap<String, AttributeValue>) {
    env.clients
        .dynamodb()
        .put_item()
        .table_name(&env.resources.customer_keys_table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}
