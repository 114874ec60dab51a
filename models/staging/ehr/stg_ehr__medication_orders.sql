with

visits as (
    select * from {{ ref('stg_ehr__visits') }}
),

-- the medication orders ("treatments") of every visit of the latest documents, in array order
orders_unnested as (
    select
        visits.visit_id,
        visits.patient_id,
        visits.visit_ordinal,
        visits.reject_rule as visit_reject_rule,
        visits.source_file,
        visits.file_md5,
        visits.line_number,
        visits.load_id,
        cast(order_elements.order_number as integer) as order_number,
        order_elements.medication_order
    from visits
    cross join
        lateral jsonb_array_elements(
            {{ jsonb_array_or_empty("visits.visit -> 'treatments'") }}
        ) with ordinality as order_elements (medication_order, order_number)
),

-- materialized: the steps below use each extracted text several times; inlined, PostgreSQL
-- would repeat the JSON extraction for every use
orders_decoded as materialized (
    select
        visit_id,
        patient_id,
        visit_ordinal,
        order_number,
        {{ json_text('medication_order', 'drug') }} as drug,
        {{ json_text('medication_order', 'dose') }} as dose,
        {{ json_text('medication_order', 'route') }} as route,
        {{ json_text('medication_order', 'start_date') }} as start_date_text,
        {{ json_text('medication_order', 'end_date') }} as end_date_text,
        visit_reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from orders_unnested
),

orders_parsed as (
    select
        visit_id,
        patient_id,
        visit_ordinal,
        order_number,
        drug,
        dose,
        route,
        {{ safe_date('start_date_text') }} as start_date,
        {{ safe_date('end_date_text') }} as end_date,
        visit_reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from orders_decoded
),

orders_checked as (
    select
        visit_id,
        patient_id,
        visit_ordinal,
        order_number,
        drug,
        dose,
        route,
        start_date,
        end_date,
        source_file,
        file_md5,
        line_number,
        load_id,
        case
            when visit_reject_rule is not null then 'rejected_visit'
            when drug is null then 'missing_drug'
            when start_date is null then 'invalid_start_date'
            when end_date < start_date then 'end_before_start'
        end as reject_rule
    from orders_parsed
)

select * from orders_checked
