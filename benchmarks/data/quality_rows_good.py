"""Good rows written by hand for the quality labelled set: SFT pairs, hard negatives, documents.

Every row was written for this project. ``make_quality_labelled.py`` builds the set from them.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------------------------------
# Good pairs, written by hand.
# ----------------------------------------------------------------------------------------------------

EN_GOOD = [
    ("Explain why the sky looks blue during the day.", "",
     "Sunlight contains every colour of visible light. Air molecules scatter short blue wavelengths much more "
     "strongly than long red ones, so blue light reaches our eyes from every direction and the sky looks blue."),
    ("Give three tips for staying focused while studying.", "",
     "1. Put your phone in another room so notifications cannot interrupt you.\n2. Work in blocks of 25 to 50 "
     "minutes and take short breaks.\n3. Write down one clear goal for each session."),
    ("Convert the temperature to Celsius.", "77 degrees Fahrenheit",
     "77 degrees Fahrenheit is 25 degrees Celsius, because (77 - 32) x 5 / 9 = 25."),
    ("Summarize the paragraph in one sentence.",
     "Bees visit flowers to collect nectar and pollen, and in doing so they carry pollen from one plant to "
     "another. Many fruits, nuts and vegetables depend on this pollination, so falling bee numbers worry farmers.",
     "Bees pollinate many of the crops people eat, so their decline threatens food production."),
    ("What is the difference between weather and climate?", "",
     "Weather describes the state of the atmosphere over hours or days, such as a rainy afternoon. Climate is "
     "the average pattern of weather in a region over decades, such as mild wet winters."),
    ("Write a Python function that returns the factorial of n.", "",
     "```python\ndef factorial(n: int) -> int:\n    if n < 0:\n        raise ValueError(\"n must be non-negative\")\n"
     "    result = 1\n    for k in range(2, n + 1):\n        result *= k\n    return result\n```"),
    ("List four renewable sources of energy.", "",
     "Solar power, wind power, hydroelectric power and geothermal energy."),
    ("Suggest a name for a bakery that specialises in sourdough.", "",
     "\"Slow Rise Bakery\" suits a sourdough bakery: it hints at the long fermentation that gives the bread its flavour."),
    ("Describe the water cycle for a ten-year-old.", "",
     "Water in rivers and seas warms up in the sun and rises into the air as invisible vapour. High in the sky it "
     "cools down and forms tiny droplets that make clouds. When the droplets grow heavy they fall as rain or "
     "snow, and the water flows back into rivers and seas to start again."),
    ("Rewrite the sentence in the passive voice.", "The committee approved the new budget.",
     "The new budget was approved by the committee."),
    ("Give an example of a metaphor and explain it.", "",
     "\"Time is a thief\" is a metaphor: it says time steals moments from us, suggesting that life passes quickly "
     "without our noticing."),
    ("How do I boil an egg so that the yolk stays soft?", "",
     "Bring a pot of water to a gentle boil, lower the egg in with a spoon and cook it for six minutes. Then put "
     "it in cold water for a minute so it stops cooking, and peel it."),
    ("Write a haiku about autumn leaves.", "",
     "Red leaves drift slowly\nacross the quiet footpath\nthe wind hums softly"),
    ("Compare cats and dogs as pets in two sentences.", "",
     "Cats are independent, quiet and happy in small flats. Dogs need more time and exercise but are more eager "
     "to play and to learn tricks."),
    ("Explain what a hash table is.", "",
     "A hash table stores values under keys. It runs each key through a hash function to pick a slot in an "
     "array, so looking up, inserting or deleting a key usually takes constant time."),
    ("Translate the sentence into French.", "I like reading in the library on weekends.",
     "J'aime lire à la bibliothèque le week-end."),
    ("Write a short, polite email declining a meeting invitation.", "",
     "Subject: Re: Project sync on Thursday\n\nHi Maria,\n\nThank you for the invitation. Unfortunately I have a "
     "conflict on Thursday afternoon, so I won't be able to join. Could you share the notes afterwards?\n\nBest "
     "regards,\nTom"),
    ("Why do onions make people cry?", "",
     "Cutting an onion breaks its cells and releases enzymes that turn sulphur compounds into a gas. The gas "
     "reaches the eyes and irritates them, and the eyes make tears to wash it away."),
    ("Name three planets that have rings.", "", "Saturn, Jupiter and Uranus all have ring systems."),
    ("Give two arguments for and two against school uniforms.", "",
     "For: uniforms reduce pressure to wear expensive clothes, and they make pupils easy to recognise on trips. "
     "Against: they limit self-expression, and they can be costly for families with several children."),
    ("Explain the rule of thirds in photography.", "",
     "The rule of thirds divides the frame into a three by three grid. Placing the subject along one of the lines "
     "or at an intersection usually gives a more balanced and interesting picture than centring it."),
    ("What causes the seasons on Earth?", "",
     "The Earth's axis is tilted by about 23.5 degrees. As the planet orbits the Sun, each hemisphere is tilted "
     "towards the Sun for part of the year and receives more direct sunlight, which brings summer."),
    ("Correct the grammar in the sentence.", "She don't like apples.", "She doesn't like apples."),
    ("Write a SQL query that counts the orders per customer.", "",
     "```sql\nSELECT customer_id, COUNT(*) AS orders\nFROM orders\nGROUP BY customer_id;\n```"),
    ("Describe a typical breakfast in Japan.", "",
     "A traditional Japanese breakfast often includes steamed rice, miso soup, grilled fish, pickled vegetables "
     "and a small dish of natto or rolled omelette."),
    ("Explain the difference between a virus and a bacterium.", "",
     "Bacteria are living single cells that can reproduce on their own, and many are harmless. Viruses are much "
     "smaller, are not cells, and can only multiply inside the cells of a host."),
    ("Give me a recipe idea for a quick vegetarian dinner.", "",
     "Try a chickpea and spinach curry: fry an onion with garlic and curry paste, add a tin of chickpeas and a "
     "tin of tomatoes, simmer for ten minutes, stir in spinach and serve with rice."),
    ("What is photosynthesis?", "",
     "Photosynthesis is the process by which plants use light energy to turn carbon dioxide and water into "
     "sugar, releasing oxygen as a by-product."),
    ("Write a motivational quote about learning.", "",
     "\"Every expert was once a beginner who refused to give up.\""),
    ("Explain how a bill becomes a law in the United States, briefly.", "",
     "A member of Congress introduces a bill, committees study and amend it, and both the House and the Senate "
     "must pass the same version. The President then signs it into law or vetoes it; Congress can override a "
     "veto with a two-thirds majority in both chambers."),
]

EN_GOOD += [
    ("Explain what inflation is in simple terms.", "",
     "Inflation means prices in general keep rising over time, so the same amount of money buys a little less "
     "each year."),
    ("Write a tweet announcing a new coffee shop opening.", "",
     "Fresh beans, friendly faces and free pastries all weekend! Our new coffee shop on Elm Street opens "
     "Saturday at 8 am. Come say hello."),
    ("Give a one-sentence definition of machine learning.", "",
     "Machine learning is a way of building computer programs that improve at a task by learning patterns from "
     "examples instead of following hand-written rules."),
    ("Which is heavier, a kilogram of feathers or a kilogram of iron?", "",
     "Neither: both weigh one kilogram. The iron is simply much denser, so it takes up far less space."),
    ("Suggest three indoor activities for a rainy afternoon with kids.", "",
     "Build a blanket fort and read stories inside it, bake simple cookies together, or set up a treasure hunt "
     "with clues hidden around the house."),
    ("Explain why we have leap years.", "",
     "The Earth takes about 365.24 days to orbit the Sun. Adding an extra day every four years keeps the calendar "
     "in step with the seasons."),
    ("Write a regular expression that matches a five-digit US ZIP code.", "", "^\\d{5}$"),
    ("Extract the date from the sentence.", "The meeting was moved to 14 March 2024 because of the storm.",
     "14 March 2024"),
    ("Tell me a fun fact about octopuses.", "",
     "Octopuses have three hearts and blue blood: two hearts pump blood through the gills, and the third "
     "pumps it to the rest of the body."),
    ("Rewrite the sentence to be more formal.", "Hey, can you send me that report thing by tomorrow?",
     "Could you please send me the report by tomorrow?"),
]

ZH_GOOD = [
    ("请解释什么是光合作用。", "",
     "光合作用是绿色植物利用光能，把二氧化碳和水转化为有机物，并释放出氧气的过程。它主要在叶绿体中进行。"),
    ("给出三个保持身体健康的建议。", "",
     "第一，保持规律作息，每天睡够七到八个小时。第二，饮食均衡，多吃蔬菜水果。第三，坚持适量运动，例如每周快走三次。"),
    ("把下面的句子翻译成英文。", "我喜欢周末在图书馆看书。", "I like reading in the library on weekends."),
    ("写一首关于秋天的四句短诗。", "", "秋风轻轻吹过田野，\n稻谷弯腰笑迎丰收，\n枫叶染红了山坡，\n归雁排成一行向南飞。"),
    ("为什么冬天人们更容易感冒？", "",
     "冬天气温低，人们大多待在室内，门窗紧闭，空气不流通，病毒更容易在人群中传播。同时，寒冷干燥的空气会让鼻腔黏膜变干，削弱它阻挡病毒的能力。"),
    ("用一句话概括下面这段话的意思。", "外卖方便了生活，但也带来了大量塑料垃圾，很多餐盒最后被填埋或焚烧。",
     "外卖虽然方便，却产生了大量难以处理的塑料垃圾。"),
    ("判断下面这句话的情感是积极还是消极。", "这家店的服务太差了，再也不来了。", "消极"),
    ("如何煮出一锅好吃的米饭？", "",
     "先把大米淘洗两三遍，米和水的比例大约是一比一点二，泡二十分钟后再开始煮。煮好以后焖十分钟再开盖，米饭会更松软。"),
    ("介绍一下长城。", "",
     "长城是中国古代修建的军事防御工程，东起山海关，西至嘉峪关，总长度超过两万公里。它见证了中国两千多年的历史，是世界文化遗产。"),
    ("解释一下“画蛇添足”这个成语的意思。", "",
     "“画蛇添足”出自《战国策》，讲的是有人画蛇时给蛇添上了脚，结果输掉了比赛。比喻做了多余的事，反而把事情弄糟。"),
    ("列出三种常见的编程语言。", "", "Python、Java 和 C++ 是三种常见的编程语言。"),
    ("写一段关于春天的描写，不超过五十字。", "", "春天来了，柳枝抽出嫩芽，桃花开得满树粉红，燕子在屋檐下忙着筑巢，田野里处处是新绿。"),
    ("比较一下火车和飞机出行的优缺点。", "",
     "火车准点率高，车站多在市中心，可以随时走动，但长途耗时较长。飞机速度快，适合远距离出行，但需要提前到机场安检，还容易受天气影响。"),
    ("北京是中国的首都吗？", "", "是的，北京是中华人民共和国的首都。"),
    ("计算：12乘以15等于多少？", "", "12乘以15等于180。"),
    ("请用Python写一个判断素数的函数。", "",
     "```python\ndef is_prime(n):\n    if n < 2:\n        return False\n    for k in range(2, int(n ** 0.5) + 1):\n"
     "        if n % k == 0:\n            return False\n    return True\n```"),
    ("为什么天空是蓝色的？", "",
     "阳光中包含各种颜色的光。大气中的分子对波长较短的蓝光散射得最强，所以我们从各个方向都能看到蓝光，天空就呈现蓝色。"),
    ("给一家卖手工面包的小店起个名字。", "", "可以叫“麦香时光”，既点出了面包的麦香，也让人联想到慢慢发酵的手工过程。"),
    ("简述地球上四季形成的原因。", "",
     "地球自转轴倾斜约二十三点五度。地球绕太阳公转时，南北半球轮流更多地朝向太阳，得到的阳光更直接，于是形成了四季。"),
    ("写一封简短的请假邮件。", "",
     "王经理您好：\n\n我因发烧需要去医院就诊，想请假一天（本周三）。手头的工作已交给小李跟进，如有急事可以电话联系我。\n\n谢谢！\n张明"),
    ("什么是通货膨胀？", "", "通货膨胀是指一段时间内物价普遍持续上涨、货币购买力下降的现象，通常用消费者物价指数来衡量。"),
    ("推荐三本适合初学者阅读的历史书。", "",
     "可以读《人类简史》、《万历十五年》和《全球通史》，它们语言通俗，适合入门。"),
    ("如何缓解考试前的紧张情绪？", "",
     "考前保证充足睡眠，做几次深呼吸放松身体；把复习内容列成清单，按计划逐项完成；考试时先做有把握的题目，增强信心。"),
    ("解释一下什么是哈希表。", "",
     "哈希表是一种按键存取数据的结构。它用哈希函数把键映射到数组中的某个位置，因此查找、插入和删除通常只需要常数时间。"),
    ("熊猫主要吃什么？", "", "大熊猫主要吃竹子，每天要花十几个小时进食，偶尔也会吃少量的小动物或水果。"),
    ("用三个词形容大海。", "", "辽阔、深邃、变幻莫测。"),
    ("写一句关于坚持的名言。", "", "“锲而不舍，金石可镂。”——荀子"),
    ("解释一下为什么切洋葱会流泪。", "",
     "切洋葱时细胞被破坏，释放出的酶会把含硫化合物转化成一种挥发性气体。这种气体刺激眼睛，眼睛就会分泌泪水来冲洗它。"),
    ("中国最长的河流是哪一条？", "", "中国最长的河流是长江，全长约六千三百公里。"),
    ("简单介绍一下二十四节气。", "",
     "二十四节气是中国古代根据太阳在黄道上的位置划分的时间节点，用来指导农事，比如立春、清明、夏至和冬至。2016年被列入人类非物质文化遗产名录。"),
]

ZH_GOOD += [
    ("请用一句话解释什么是区块链。", "", "区块链是一种由多方共同维护、按时间顺序把数据块连接起来、难以篡改的分布式账本技术。"),
    ("写一条宣传新咖啡店开业的朋友圈文案。", "", "新店开业啦！周六早上八点，榆树街的小咖啡馆等你来，开业三天饮品一律八折，还有免费小点心哦～"),
    ("为什么要设置闰年？", "", "地球绕太阳一周约需三百六十五点二四天，每四年增加一天，可以让日历与季节保持一致。"),
    ("提取句子中的日期。", "会议因台风改到了2024年3月14日举行。", "2024年3月14日"),
    ("推荐三种适合雨天在家和孩子一起玩的活动。", "", "可以一起搭毯子城堡讲故事，一起烤简单的小饼干，或者在家里布置一场寻宝游戏。"),
    ("把这句话改得更正式一些。", "喂，那个报告你明天能发我吗？", "请问您明天能否把报告发给我？"),
    ("告诉我一个关于章鱼的有趣知识。", "", "章鱼有三颗心脏和蓝色的血液，其中两颗心脏负责把血液送往鳃，另一颗负责全身供血。"),
    ("一公斤棉花和一公斤铁哪个更重？", "", "一样重，都是一公斤，只是铁的密度大得多，体积小得多。"),
    ("解释一下“守株待兔”的意思。", "", "比喻死守狭隘经验、不知变通，或者妄想不劳而获。"),
    ("写出三个描写雨的成语。", "", "倾盆大雨、细雨蒙蒙、风雨交加。"),
]

# ----------------------------------------------------------------------------------------------------
# Hard negatives: good rows that look like a rule would fire.
# ----------------------------------------------------------------------------------------------------

HARD_GOOD = [
    ("en", "refusal", "Write a polite message declining a wedding invitation.", "",
     "Dear Anna and Ben,\n\nThank you so much for the invitation. I'm sorry, but I can't attend, as I will be "
     "abroad that week. I wish you a wonderful day.\n\nWarmly,\nKate"),
    ("en", "refusal", "Explain what the phrase 'I cannot stress this enough' means.", "",
     "It is a way of saying that something is extremely important: the speaker feels no amount of emphasis "
     "would be too much."),
    ("en", "refusal", "Write one sentence about an AI researcher.", "",
     "As an AI researcher, Dr. Lee spends her days testing how neural networks learn from small datasets."),
    ("zh", "refusal", "替我写一条婉拒聚会的短信。", "", "很抱歉，我不能参加周五的聚会了，那天要加班，祝你们玩得开心！"),
    ("zh", "refusal", "把这句话翻译成中文：I can't believe it.", "", "我无法相信这是真的。"),
    ("en", "non_answer", "Is there any prime number among 4, 6 and 8?", "", "No, none of them is prime."),
    ("en", "non_answer", "Which of the options is correct? A) 2+2=5 B) 3+3=7 C) none of the above", "",
     "C) none of the above"),
    ("zh", "non_answer", "“不知道”用英文怎么说？", "", "可以说 \"I don't know\"。"),
    ("en", "response_too_short", "What is the capital of France?", "", "Paris"),
    ("en", "response_too_short", "Classify the sentiment of the review.", "The food was cold and bland.", "Negative"),
    ("en", "response_too_short", "How many legs does a spider have?", "", "Eight."),
    ("zh", "response_too_short", "一年有几个季节？", "", "四个。"),
    ("zh", "response_too_short", "判断对错：太阳从西边升起。", "", "错"),
    ("en", "truncated", "Write a haiku about the sea.", "", "Grey waves fold and break\nsalt wind combs the empty beach\ngulls hang on the air"),
    ("en", "truncated", "Suggest a title for an article about urban beekeeping.", "",
     "Honey on the Rooftops: How City Beekeepers Are Helping Pollinators Thrive"),
    ("en", "truncated", "List five synonyms of 'happy'.", "", "joyful, cheerful, content, delighted, glad"),
    ("en", "truncated", "Write a JavaScript snippet that logs the current date.", "",
     "```javascript\nconst now = new Date();\nconsole.log(now.toLocaleString());\n```"),
    ("zh", "truncated", "写两句描写月亮的诗句。", "", "明月悄悄爬上柳梢头\n清辉洒满寂静的小巷"),
    ("en", "unseen_input", "Summarize the following article.",
     "The city council voted on Monday to turn two downtown streets into pedestrian zones. Shop owners were "
     "divided: some expect more visitors, others fear losing customers who drive.",
     "The council made two downtown streets car-free, and local shop owners disagree about the effect."),
    ("en", "unseen_input", "Describe a picture of a sunset over the sea.", "",
     "The sun sits low on the horizon, a bright orange disc. Its light spills across the water in a shimmering "
     "path, and the clouds above glow pink and violet."),
    ("en", "unseen_input", "What is an image processing pipeline?", "",
     "It is a sequence of steps applied to images, such as loading, resizing, denoising, feature extraction and "
     "classification, where each step's output feeds the next."),
    ("en", "unseen_input", "Write a short review of this video game: a puzzle game where you rotate rooms to guide a cat home.", "",
     "A charming puzzle game: rotating whole rooms to guide the cat home feels fresh, and the difficulty rises "
     "gently. Some later levels drag, but the art and music make up for it."),
    ("zh", "unseen_input", "用一句话概括下面这段话。", "小明每天早上六点起床跑步，坚持了三年，体重减少了二十公斤。",
     "小明坚持晨跑三年，减重二十公斤。"),
    ("zh", "unseen_input", "常见的图片格式有哪些？", "", "常见的图片格式有JPEG、PNG、GIF、WebP和BMP等。"),
    ("en", "impossible_action", "Draw a conclusion from the data.", "Sales rose every month after the price cut.",
     "Lowering the price most likely increased sales."),
    ("en", "impossible_action", "Plot y = x^2 for x from -3 to 3 using matplotlib.", "",
     "```python\nimport numpy as np\nimport matplotlib.pyplot as plt\nx = np.linspace(-3, 3, 100)\n"
     "plt.plot(x, x ** 2)\nplt.show()\n```"),
    ("en", "impossible_action", "Paint a picture of life in a 1900s village with words.", "",
     "Smoke curls from chimneys as the blacksmith's hammer rings across the square. Children chase a hoop past "
     "the well, while farmers lead horses home along the muddy lane."),
    ("en", "impossible_action", "Where should I go to study abroad if I like mountains?", "",
     "Switzerland, Austria and New Zealand all have good universities close to mountains, and each offers "
     "programmes taught in English."),
    ("zh", "impossible_action", "用Python画一个正方形。", "",
     "```python\nimport turtle\nfor _ in range(4):\n    turtle.forward(100)\n    turtle.left(90)\nturtle.done()\n```"),
    ("zh", "impossible_action", "画蛇添足是什么意思？", "", "比喻做了多余的事，不但无益，反而坏事。"),
    ("en", "ungrounded_url", "Summarize the page at https://example.org/bikes", "",
     "The page at https://example.org/bikes argues that protected bike lanes make cycling safer."),
    ("en", "ungrounded_url", "What is python.org used for?", "",
     "python.org is the official website of the Python language; for example, https://www.python.org/downloads/ "
     "hosts the installers."),
    ("en", "ungrounded_url", "Write code that fetches JSON from an API.", "",
     "```python\nimport requests\nresponse = requests.get(\"https://api.weather-demo.io/v1/today\")\nprint(response.json())\n```"),
    ("en", "placeholder", "Write a cover letter template with placeholders.", "",
     "Dear [Hiring Manager],\n\nI am excited to apply for the [Job Title] role at [Company Name].\n\nSincerely,\n[Your Name]"),
    ("en", "placeholder", "Cite a source in Markdown.", "", "See [The Science of Sleep](https://example.com/sleep) for details [1]."),
    ("zh", "placeholder", "写一个会议通知的模板。", "", "各位同事：\n\n定于[日期]在[地点]召开[会议名称]，请准时参加。\n\n[部门名称]"),
    ("en", "repeats_instruction", "Repeat after me: the quick brown fox jumps over the lazy dog.", "",
     "The quick brown fox jumps over the lazy dog."),
    ("en", "repeats_instruction", "Sort the letters alphabetically: c b a d", "", "a b c d"),
    ("en", "length_ratio", "Write a long story.", "",
     "The lighthouse keeper had not seen a ship in eleven days. Each evening he climbed the spiral stairs, "
     "lit the great lamp and watched the dark water, and each morning he wrote the same line in his logbook: "
     "no vessels sighted. On the twelfth night a light answered his, small and low, far to the south."),
    ("en", "length_ratio", "Is the statement true? Answer yes or no.",
     " ".join(["The report lists every bridge in the county, its age, its last inspection and its load limit."] * 1)
     + " Statement: the report lists the bridges of the county.", "Yes"),
    ("en", "non_answer", "Write a short dialogue where one person admits they don't know the answer.", "",
     "Sam: Do you know when the last train leaves?\nLee: I don't know, but let's check the timetable at the "
     "entrance.\nSam: Good idea."),
    ("zh", "non_answer", "写一句表示不确定的礼貌回答。", "", "这个问题我暂时不太确定，我查一下资料再回复您，可以吗？"),
    ("en", "unseen_input", "Write a caption for a photo of a golden retriever catching a frisbee at the beach.", "",
     "Mid-air and all in: the perfect catch on a sunny beach day."),
    ("zh", "unseen_input", "根据以下材料回答问题：小明有三个苹果，吃掉了一个。问：还剩几个？", "", "还剩两个苹果。"),
    ("en", "impossible_action", "Explain how to open a bank account.", "",
     "Choose a bank, bring an ID and proof of address, fill in the application form at a branch or online, and "
     "make the first deposit if the bank requires one."),
    ("zh", "impossible_action", "下载Python时需要注意什么？", "",
     "要从官方网站下载，选择与操作系统匹配的版本，安装时勾选“添加到PATH”，并留意是否需要管理员权限。"),
    ("en", "truncated", "Give the first three steps of making tea, as a list.", "",
     "1. Boil fresh water\n2. Warm the teapot\n3. Add one spoon of tea per cup"),
    ("zh", "truncated", "写出三种水果的名字。", "", "苹果、香蕉、橙子"),
    ("en", "ungrounded_url", "Give an example of a URL with a query string.", "",
     "For example: https://example.com/search?q=tea&page=2"),
    ("zh", "placeholder", "写一个填空题。", "", "中国的首都是[填空]。"),
    ("en", "dup_ngram", "Write a chorus for a pop song.", "",
     "Hold on, hold on, the night is young,\nhold on, hold on, our song's not done."),
]


EN_DOCS = [
    "Rivers shape the land they cross. Over thousands of years a river carves valleys, moves sand and stones, "
    "and builds wide plains where it floods. People have settled along rivers since the first farms, because the "
    "water feeds crops and carries boats. Today many rivers are managed with dams and levees, which protect towns "
    "from floods but also change how fish move and where the sediment ends up.",
    "A good loaf of bread needs only four ingredients: flour, water, salt and yeast. The baker mixes them into a "
    "dough and kneads it until the gluten forms long elastic strands. The dough then rests while the yeast eats "
    "sugars and releases carbon dioxide, which the gluten traps in small bubbles. After shaping, the loaf rises a "
    "second time and goes into a hot oven, where the crust browns and the crumb sets.",
    "Public libraries lend far more than books. Many of them offer free internet access, quiet rooms for study, "
    "language classes and story hours for children. For people who cannot afford a computer at home, the library "
    "is often the only place to apply for jobs online. Librarians also help visitors judge whether a website can "
    "be trusted, a skill that matters more every year.",
    "The human heart beats about one hundred thousand times a day. Each beat starts with an electrical signal "
    "from a small cluster of cells called the sinoatrial node. The signal spreads across the upper chambers, "
    "which contract and push blood into the lower chambers. A short pause lets them fill before they contract in "
    "turn and send blood to the lungs and to the rest of the body.",
    "Learning a second language as an adult is slower than as a child, but it is far from hopeless. Adults are "
    "good at spotting patterns and can study grammar on purpose, which children cannot. The hardest part is "
    "usually pronunciation, because the ear has tuned itself to the sounds of the first language. Regular "
    "listening, speaking with patient partners and reading for pleasure make the biggest difference.",
    "Composting turns kitchen scraps and garden waste into dark, crumbly soil. Microbes break down the material, "
    "and they work best with a mix of green waste, such as vegetable peelings and grass, and brown waste, such as "
    "dry leaves and cardboard. The heap should stay as damp as a wrung-out sponge and be turned every few weeks "
    "so that air reaches the middle.",
]
ZH_DOCS = [
    "长江是中国最长的河流，全长约六千三百公里，流经青海、西藏、四川、重庆、湖北、湖南、江西、安徽、江苏和上海等地。"
    "长江流域气候温和，雨量充沛，自古以来就是重要的农业区。沿江的城市依靠水运发展商业，今天的长江仍然是中国最繁忙的内河航道之一。",
    "做一碗好吃的面条，关键在于和面。面粉里加入适量的清水和一点盐，揉成光滑的面团，然后盖上湿布醒半个小时。"
    "醒好的面团更有筋道，擀开以后不容易断。煮面时水要多，火要大，面条下锅后用筷子轻轻搅散，煮好后过一下凉水，口感会更爽滑。",
    "图书馆不仅是借书的地方，也是城市里重要的公共空间。很多图书馆提供免费的网络、自习座位、讲座和亲子阅读活动。"
    "对于住房紧张的年轻人来说，图书馆安静明亮，是学习和工作的好去处。一些图书馆还开设了夜间自习室，方便下班后的读者。",
    "人的睡眠分为几个阶段，包括浅睡、深睡和快速眼动睡眠。深睡阶段有助于身体恢复，快速眼动睡眠则与记忆整理和情绪调节有关。"
    "成年人每晚通常需要七到九个小时的睡眠。长期睡眠不足会影响注意力和免疫力，因此保持规律的作息非常重要。",
    "学习编程最好的方法是动手写代码。初学者可以先选择一门语法简单的语言，例如Python，从打印一句话、计算几个数字开始，"
    "逐步学习变量、条件判断和循环。遇到错误时不要气馁，仔细阅读报错信息，往往就能找到问题所在。坚持每天练习，进步会很明显。",
    "熊猫是中国特有的珍稀动物，主要生活在四川、陕西和甘肃的山区竹林中。成年大熊猫每天要花十几个小时吃竹子，一天能吃掉十几公斤。"
    "虽然属于食肉目，它们的食物却几乎全是竹子。经过多年的保护，野生大熊猫的数量已经有所回升。",
]
DE_DOC = (
    "Die Stadtbibliothek bleibt am Wochenende geschlossen, weil das Dach repariert wird. Ab Montag können "
    "Leserinnen und Leser wieder Bücher ausleihen, Zeitungen lesen und an den Computern arbeiten. Während der "
    "Bauarbeiten steht im Rathaus eine kleine Ausgabestelle bereit, in der vorbestellte Medien abgeholt werden "
    "können. Die Leitung bittet um Verständnis für die Einschränkungen und dankt allen Besuchern."
)
