//! What only DynamoDB's listing does: the keys-only customer index exists where provision made
//! the table, and an OrderStatusTable made before the index existed, or with the index of
//! before (`byCustomer`, every attribute projected), is given it. (The listing's paging runs
//! on both stores in `order-testkit`'s `read_models_contract`.)

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use order_app::ReadModels;
use order_aws::provision::provision;
use order_aws::read_models::{CUSTOMER_ID, CUSTOMER_INDEX, PLACED_KEY};
use order_aws::{AwsClients, DynamoEventStore, DynamoReadModels};
use order_domain::ports::EventStore;
use order_domain::{CustomerId, OrderId};
use order_read_models::{OrderView, View};
use order_testkit::events::{meta, order_placed, product, write_after};
use order_testkit::support::endpoint;

/// The customer index of `table`: (hash, range, projection), if any.
async fn customer_index(
    clients: &AwsClients,
    table: &str,
) -> Option<(String, String, Option<ProjectionType>)> {
    index_of(clients, table, CUSTOMER_INDEX).await
}

/// The index `name` of `table`: (hash, range, projection), if it has one.
async fn index_of(
    clients: &AwsClients,
    table: &str,
    name: &str,
) -> Option<(String, String, Option<ProjectionType>)> {
    let out = clients
        .dynamodb()
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    let index = out
        .table()?
        .global_secondary_indexes()
        .iter()
        .find(|i| i.index_name() == Some(name))?
        .clone();
    let key_of = |kind: KeyType| {
        index
            .key_schema()
            .iter()
            .find(|k| *k.key_type() == kind)
            .map(|k| k.attribute_name().to_owned())
            .unwrap_or_default()
    };
    Some((
        key_of(KeyType::Hash),
        key_of(KeyType::Range),
        index
            .projection()
            .and_then(|p| p.projection_type().cloned()),
    ))
}

/// A string attribute's definition.
fn string(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .unwrap()
}

/// A key schema element.
fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .unwrap()
}

/// A fresh OrderStatusTable as an older provision made it: its key, and with `by_customer`
/// the customer index of before (`byCustomer`, every attribute projected). Returns the
/// resources' prefix and the table's name.
async fn older_table(clients: &AwsClients, by_customer: bool) -> (String, String) {
    let prefix = format!("t{}-", OrderId::generate().to_string().to_lowercase());
    let table = format!("{prefix}OrderStatusTable");
    let mut create = clients
        .dynamodb()
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string("orderId"))
        .key_schema(key("orderId", KeyType::Hash));
    if by_customer {
        let all = Projection::builder()
            .projection_type(ProjectionType::All)
            .build();
        let index = GlobalSecondaryIndex::builder()
            .index_name("byCustomer")
            .key_schema(key(CUSTOMER_ID, KeyType::Hash))
            .key_schema(key(PLACED_KEY, KeyType::Range))
            .projection(all)
            .build()
            .unwrap();
        create = create
            .attribute_definitions(string(CUSTOMER_ID))
            .attribute_definitions(string(PLACED_KEY))
            .global_secondary_indexes(index);
    }
    create.send().await.unwrap();
    (prefix, table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_status_table_without_the_customer_index_is_given_it_and_lists() {
    let Some(_) = endpoint("an_order_status_table_without_the_customer_index") else {
        return;
    };
    let clients = AwsClients::load().await.expect("the SDK configuration");
    // The table as an older provision made it: the key only.
    let (prefix, table) = older_table(&clients, false).await;
    assert_eq!(customer_index(&clients, &table).await, None);

    let resources = provision(&clients, &prefix).await.unwrap();
    let want = Some((
        CUSTOMER_ID.to_owned(),
        PLACED_KEY.to_owned(),
        Some(ProjectionType::KeysOnly),
    ));
    assert_eq!(customer_index(&clients, &table).await, want);
    // Provisioning again leaves it as it is.
    provision(&clients, &prefix).await.unwrap();
    assert_eq!(customer_index(&clients, &table).await, want);

    lists_one_order(&clients, &resources).await;
}

/// Places an order through the log, projects it onto `resources`' OrderStatusTable, and
/// checks its customer's listing is that one order, with the status the table holds.
async fn lists_one_order(clients: &AwsClients, resources: &order_aws::AwsResources) {
    let reads = DynamoReadModels::new(
        clients.dynamodb(),
        &resources.order_status_table,
        &resources.inventory_table,
    );
    let order = OrderId::generate();
    let placed = write_after(
        &order.stream(),
        None,
        [order_placed(order, &product("SKU-A")).encode()],
        &meta(order),
    );
    let store = DynamoEventStore::new(clients.dynamodb().clone(), &resources.events_table);
    store.append(vec![placed]).await.unwrap();
    let history = store.read_stream(&order.stream(), 0).await.unwrap();
    let view = OrderView::fold(None, &history).unwrap().unwrap();
    reads.orders.put(&view).await.unwrap();
    let customer = CustomerId::parse(&view.customer_id).unwrap();
    let page = reads.list_orders(&customer, 20, None).await.unwrap();
    assert_eq!((page.orders, page.next), (vec![view], None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_status_table_with_the_index_of_before_is_given_the_keys_only_one_beside_it() {
    let Some(_) = endpoint("an_order_status_table_with_the_index_of_before") else {
        return;
    };
    let clients = AwsClients::load().await.expect("the SDK configuration");
    // The table as the provision of before made it: `byCustomer`, every attribute projected.
    let (prefix, table) = older_table(&clients, true).await;
    assert_eq!(customer_index(&clients, &table).await, None);

    let resources = provision(&clients, &prefix).await.unwrap();
    let keys = (CUSTOMER_ID.to_owned(), PLACED_KEY.to_owned());
    assert_eq!(
        customer_index(&clients, &table).await,
        Some((
            keys.0.clone(),
            keys.1.clone(),
            Some(ProjectionType::KeysOnly)
        ))
    );
    // The old index stays (nothing reads it; deleting it is the operator's, as the template's
    // second update does).
    assert_eq!(
        index_of(&clients, &table, "byCustomer").await,
        Some((keys.0, keys.1, Some(ProjectionType::All)))
    );
    lists_one_order(&clients, &resources).await;
}
